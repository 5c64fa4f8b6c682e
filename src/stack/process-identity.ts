import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/**
 * Who a process is, beyond its pid: the kernel's boot id and the process's start time (field 22
 * of /proc/<pid>/stat, clock ticks after boot). A pid is reused after the process ends or the
 * machine reboots; the pair (boot id, start time) is not, so a recorded identity that still
 * matches proves the process is the one that was started.
 */
export interface ProcessIdentity {
  pid: number;
  /** /proc/<pid>/stat field 22: clock ticks after boot. */
  startTime: number;
  /** /proc/sys/kernel/random/boot_id: changes at each boot. */
  bootId: string;
}

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  startTime: number;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself hold
 * spaces and parentheses, so the fields after it are counted from the last ')'.
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state), so field N is rest[N - 3].
  const state = rest[0];
  const ppid = Number(rest[1]);
  const startTime = Number(rest[22 - 3]);
  if (!Number.isInteger(pid) || pid <= 0 || !state || !Number.isInteger(ppid)) return null;
  if (!Number.isSafeInteger(startTime) || startTime < 0) return null;
  return { pid, comm: text.slice(open + 1, close), state, ppid, startTime };
}

/** Whether a recorded identity is the same process as the one seen now (null: no such process). */
export function sameProcess(recorded: ProcessIdentity, now: ProcessIdentity | null): boolean {
  return (
    now !== null &&
    now.pid === recorded.pid &&
    now.startTime === recorded.startTime &&
    now.bootId === recorded.bootId
  );
}

/** Seconds a process has run, from its start time, the machine's uptime and the tick rate. */
export function processUptimeSeconds(
  startTime: number,
  machineUptimeSeconds: number,
  ticksPerSecond: number,
): number {
  return Math.max(0, Math.floor(machineUptimeSeconds - startTime / ticksPerSecond));
}

export function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // Expected: no /proc (not Linux): processes are then told apart by pid and start time only.
    return 'unknown';
  }
}

/** The identity of a live process (a zombie counts as gone), or null. */
export function identityOf(pid: number): ProcessIdentity | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // Expected: ENOENT, no such process.
    return null;
  }
  const st = parseProcStat(text);
  if (!st || st.pid !== pid || st.state === 'Z' || st.state === 'X') return null;
  return { pid, startTime: st.startTime, bootId: bootId() };
}

/** The command line of a process as its words, or null. */
export function commandLineOf(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    // Expected: ENOENT, no such process (or no /proc).
    return null;
  }
}

let ticks: number | null = null;
function ticksPerSecond(): number {
  if (ticks === null) {
    const res = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(res.stdout?.trim());
    ticks = res.status === 0 && n > 0 ? n : 100;
  }
  return ticks;
}

/** Seconds since the process with this start time began, or null when /proc cannot say. */
export function uptimeOf(startTime: number): number | null {
  try {
    const up = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return processUptimeSeconds(startTime, up, ticksPerSecond());
  } catch {
    // Expected: no /proc/uptime (not Linux): the age is unknown.
    return null;
  }
}
