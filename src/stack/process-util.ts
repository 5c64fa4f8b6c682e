import { execFile, spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

/** Runs a command to completion; throws with its output when it fails. */
export function run(cmd: string, args: string[], opts: SpawnOptions & { input?: string } = {}): string {
  const res = spawnSync(cmd, args, { encoding: 'utf8', ...opts, stdio: ['pipe', 'pipe', 'pipe'] });
  if (res.error) throw new Error(`${cmd}: ${res.error.message}`);
  if (res.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}): ${res.stderr || res.stdout}`);
  return res.stdout;
}

/**
 * `run` without blocking the event loop: for a command that may wait on a service (a Docker
 * engine restoring its containers), in a process that hosts a manager or an agent whose timers
 * and heartbeats must go on meanwhile. Killed after `timeoutMs`.
 */
export function runAsync(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err)
        reject(
          new Error(`${cmd} ${args.join(' ')} failed (${err.code ?? err.message}): ${stderr || stdout}`),
        );
      else resolve(stdout);
    });
  });
}

export function which(cmd: string): string | null {
  const res = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.trim() : null;
}

/** Starts a long-running child detached into its own process group; returns its pid. */
export function launch(
  cmd: string,
  args: string[],
  logFile: number | 'ignore',
  env: NodeJS.ProcessEnv = process.env,
): number {
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', logFile, logFile], env });
  child.unref();
  if (!child.pid) throw new Error(`could not start ${cmd}`);
  return child.pid;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // Expected: ESRCH, no such process (EPERM, another user's, is not one we could signal either).
    return false;
  }
}

/** Stops a process by its pid: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopPid(pid: number, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // Expected: ESRCH, it ended since the check: nothing to stop.
    return;
  }
  const until = Date.now() + graceMs;
  while (Date.now() < until) {
    if (!isAlive(pid)) return;
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Expected: ESRCH, it ended within the last poll.
  }
}

export function readPid(file: string): number | null {
  if (!existsSync(file)) return null;
  const n = Number(readFileSync(file, 'utf8').trim().split('\n')[0]);
  return Number.isInteger(n) && n > 0 ? n : null;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface WaitOptions {
  /** How long before giving up (default 30 s). */
  timeoutMs?: number;
  /** The pause between two tries (default 50 ms). */
  intervalMs?: number;
}

/** The values `waitUntil` reads as "not yet". */
export type NotYet = null | undefined | false;

/**
 * Polls `check` until it returns something other than null, undefined or false, and resolves with
 * that. A throw counts as "not yet" too (a process still starting, a file not yet written); the
 * last one is quoted in the error when the deadline passes. `what` names what was awaited; a
 * function is called only when it fails. A bare number for `opts` is the timeout.
 */
export async function waitUntil<T>(
  what: string | (() => string),
  check: () => T | NotYet | Promise<T | NotYet>,
  opts: WaitOptions | number = {},
): Promise<T> {
  const { timeoutMs = 30_000, intervalMs = 50 } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
  const until = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const v = await check();
      if (v !== null && v !== undefined && v !== false) return v;
      lastError = null;
    } catch (err) {
      // Expected while the awaited thing is not there yet; quoted below if it never comes.
      lastError = err;
    }
    if (Date.now() >= until) {
      const name = typeof what === 'function' ? what() : what;
      const why = lastError ? `; last error: ${(lastError as Error).message ?? String(lastError)}` : '';
      throw new Error(`waited ${timeoutMs} ms for ${name}${why}`);
    }
    await sleep(intervalMs);
  }
}
