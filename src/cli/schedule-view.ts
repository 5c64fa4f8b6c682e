import { ApiError } from './client.js';
import { InvalidArgument } from './base-command.js';
import type { Output } from './output.js';
import { relativeTime } from './output.js';
import { instantText, runResultText, type ScheduleWire } from '../domain/schedule-wire.js';

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
