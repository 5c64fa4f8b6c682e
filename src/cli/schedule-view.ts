import { ApiError } from './client.js';
import { InvalidArgument } from './base-command.js';
import type { Output } from './output.js';
import { relativeTime } from './output.js';

/** A run of a schedule as the API shows it (`lastRun`, `runs[]`). */
export interface ScheduleRunWire {
  scheduledFor: string;
  /** started | skipped | missed | triggered */
  outcome: string;
  sessionId: string | null;
  status: string | null;
  result: string | null;
  exitCode: number | null;
}

/** A schedule as `GET /schedules/{name}` answers it (the list's items lack `nextInstants` and `runs`). */
export interface ScheduleWire {
  id: string;
  name: string;
  ownerAccessKey: string;
  domain: string;
  cron: string;
  timezone: string;
  concurrencyPolicy: string;
  startingDeadlineSeconds: number | null;
  suspend: boolean;
  successfulHistoryLimit: number;
  failedHistoryLimit: number;
  session: Record<string, unknown> | null;
  template: unknown;
  nextRunAt: string | null;
  lastRun: ScheduleRunWire | null;
  createdAt: string;
  updatedAt: string;
  nextInstants?: string[];
  runs?: ScheduleRunWire[];
}

/** What `POST /schedules/{name}/trigger` answers. */
export interface ScheduleTriggerWire {
  sessionId: string;
  sessionName: string;
  scheduledFor: string;
}

const POLICIES = { allow: 'Allow', forbid: 'Forbid', replace: 'Replace' } as const;

/** `--policy allow|forbid|replace` (any case) as the API spells it; anything else exits 4. */
export function policyArg(value: string | undefined): 'Allow' | 'Forbid' | 'Replace' | undefined {
  if (value === undefined) return undefined;
  const p = POLICIES[value.toLowerCase() as keyof typeof POLICIES];
  if (!p) throw new InvalidArgument(`--policy takes allow, forbid or replace (got "${value}").`);
  return p;
}

/** A count flag (`--successful-history 5`): a whole number ≥ 0, else exit 4. */
export function countArg(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new InvalidArgument(`${flag} takes a whole number (got "${value}").`);
  return Number(value);
}

/** The API path of a schedule. */
export function schedulePath(name: string, tail = ''): string {
  return `/schedules/${encodeURIComponent(name)}${tail}`;
}

/**
 * Runs an API call whose 400 `invalid-schedule` (a bad cron, zone, policy) is a bad argument:
 * the server's message, exit 4, as a flag the CLI itself refuses.
 */
export async function checkedBySchedule<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'invalid-schedule')
      throw new InvalidArgument(
        `${err.title.replace(/\.?$/, '.')} ${err.message} (HTTP 400 invalid-schedule)`,
      );
    throw err;
  }
}

/**
 * An instant in the zone it was given in, as people read it: `2026-03-29T03:00:00+02:00` →
 * `2026-03-29 03:00:00 +02:00`; a UTC instant (`Z`) shows `UTC`.
 */
export function instantText(iso: string | null | undefined): string {
  if (!iso) return '-';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.exec(iso);
  if (!m) return iso;
  return `${m[1]} ${m[2]} ${m[3] === 'Z' ? 'UTC' : m[3]}`;
}

/**
 * What a run came to, in a word or two: the session's result and exit code once it ended, its
 * status while it runs, `skipped`/`missed` for the instants that started nothing.
 */
export function runResultText(run: ScheduleRunWire | null | undefined): string {
  if (!run) return '-';
  if (run.outcome === 'skipped' || run.outcome === 'missed') return run.outcome;
  if (!run.status) return run.sessionId ? `${run.outcome} (session gone)` : run.outcome;
  if (run.result && run.result !== 'UNDEFINED')
    return `${run.result}${run.exitCode === null ? '' : ` exit ${run.exitCode}`}`;
  return run.status;
}

/** `active` or `suspended`. */
export function scheduleState(s: Pick<ScheduleWire, 'suspend'>): string {
  return s.suspend ? 'suspended' : 'active';
}

/** The rows `bai schedule list` prints, one a schedule. */
export function scheduleListRows(items: ScheduleWire[], now = Date.now()): string[][] {
  return items.map((s) => [
    s.name,
    s.cron,
    s.timezone,
    s.concurrencyPolicy,
    s.nextRunAt ? `${instantText(s.nextRunAt)} (${relativeTime(s.nextRunAt, now)})` : '-',
    runResultText(s.lastRun),
    scheduleState(s),
  ]);
}

export const SCHEDULE_LIST_HEADERS = ['NAME', 'CRON', 'ZONE', 'POLICY', 'NEXT', 'LAST RESULT', 'STATE'];

/** The lines of `bai schedule info`: the facts, the next instants in the zone, the runs newest first. */
export function scheduleInfoLines(s: ScheduleWire, o: Output, now = Date.now()): string[] {
  const rows: [string, string][] = [
    ['Schedule', `${s.name} (${s.id})`],
    ['Owner', s.ownerAccessKey],
    ['Cron', s.cron],
    ['Zone', s.timezone],
    ['Policy', s.concurrencyPolicy],
    ['Starting deadline', s.startingDeadlineSeconds === null ? '-' : `${s.startingDeadlineSeconds} s`],
    ['State', scheduleState(s)],
    ['History kept', `${s.successfulHistoryLimit} succeeded, ${s.failedHistoryLimit} failed`],
    ['Next run', s.nextRunAt ? `${s.nextRunAt} (${relativeTime(s.nextRunAt, now)})` : '-'],
    ['Created', s.createdAt],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`);
  const next = s.nextInstants ?? [];
  lines.push(`Next instants (${s.timezone})`);
  if (next.length === 0) lines.push(s.suspend ? '  none: suspended' : '  none');
  for (const i of next) lines.push(`  ${instantText(i)}`);
  const runs = s.runs ?? [];
  lines.push('Runs');
  if (runs.length === 0) lines.push('  none yet');
  else {
    const cells = runs.map((r) => [
      instantText(r.scheduledFor),
      r.outcome,
      r.sessionId ?? '-',
      o.status(runResultText(r)),
    ]);
    const widths = [0, 1, 2].map((i) => Math.max(...cells.map((c) => c[i]!.length)));
    for (const c of cells) lines.push(`  ${c.map((v, i) => (i < 3 ? v.padEnd(widths[i]!) : v)).join('  ')}`);
  }
  return lines;
}
