import { instantsBetween, nextInstant, type CronSpec } from './schedule-cron.js';

/** What a schedule does at an instant while a run of it is live (Kubernetes CronJob's names). */
export const CONCURRENCY_POLICIES = ['Allow', 'Forbid', 'Replace'] as const;
export type ConcurrencyPolicy = (typeof CONCURRENCY_POLICIES)[number];

/**
 * What became of an instant: a session `started`; `skipped` (Forbid, a run was live);
 * `missed` (past startingDeadlineSeconds, or superseded by a later instant due at once: at most
 * one catch-up run); `triggered` (POST …/trigger, outside the plan); `failed` (the session could
 * not be created: admission refused it, e.g. an unknown image or a quota).
 */
export const RUN_OUTCOMES = ['started', 'skipped', 'missed', 'triggered', 'failed'] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

export interface DueState {
  /** The schedule's next instant (null: nothing is due, ever). */
  nextRunAt: Date | null;
  now: Date;
  startingDeadlineSeconds: number | null;
  policy: ConcurrencyPolicy;
  /** Live sessions the schedule created (PENDING … TERMINATING). */
  liveRuns: number;
}

/** The instant a tick acts on and what it does with it. */
export interface DuePlan {
  /** Instants recorded `missed`, oldest first. */
  missed: Date[];
  /** The instant to act on; null: none (nothing due, or the due ones were all missed). */
  fire: Date | null;
  /** start: create its session; skip: record it skipped (Forbid); replace: cancel the live runs, then start. */
  action: 'start' | 'skip' | 'replace' | null;
  /** The schedule's next instant after this decision. */
  nextRunAt: Date | null;
}

const NOTHING = (nextRunAt: Date | null): DuePlan => ({ missed: [], fire: null, action: null, nextRunAt });

/**
 * The decision of one tick for one schedule. Every instant from `nextRunAt` up to `now` is
 * decided exactly once: the latest is run when it is within the starting deadline (Forbid skips
 * it while a run is live, Replace cancels the live runs first), every earlier one is recorded
 * missed, and so is the latest when past the deadline. After a long downtime the walk stops at
 * MAX_INSTANTS_PER_WALK instants (all missed: later ones exist) and the next tick goes on.
 */
export function planDue(spec: CronSpec, s: DueState): DuePlan {
  if (s.nextRunAt === null || s.nextRunAt.getTime() > s.now.getTime()) return NOTHING(s.nextRunAt);
  const walk = instantsBetween(spec, s.nextRunAt, s.now);
  const last = walk.instants.at(-1);
  if (last === undefined) return NOTHING(nextInstant(spec, s.now));
  if (walk.more)
    return { missed: walk.instants, fire: null, action: null, nextRunAt: nextInstant(spec, last) };
  const missed = walk.instants.slice(0, -1);
  const nextRunAt = nextInstant(spec, last);
  if (pastDeadline(last, s.now, s.startingDeadlineSeconds))
    return { missed: walk.instants, fire: null, action: null, nextRunAt };
  let action: DuePlan['action'] = 'start';
  if (s.liveRuns > 0 && s.policy === 'Forbid') action = 'skip';
  if (s.liveRuns > 0 && s.policy === 'Replace') action = 'replace';
  return { missed, fire: last, action, nextRunAt };
}

/** Whether a run of `instant` would start more than `deadlineSeconds` after it (null: never). */
export function pastDeadline(instant: Date, now: Date, deadlineSeconds: number | null): boolean {
  return deadlineSeconds !== null && now.getTime() - instant.getTime() > deadlineSeconds * 1000;
}

/** A history row as pruning sees it: live (kept), or finished as a success or a failure. */
export interface HistoryEntry {
  id: string;
  kind: 'live' | 'success' | 'failure';
}

/**
 * The history rows to delete, newest first in `entries`: successes beyond `successLimit` and
 * failures beyond `failureLimit` (sessions that ended otherwise than SUCCESS, runs that could
 * not be created, skipped and missed instants). Live runs are never pruned.
 */
export function historyToPrune(
  entries: readonly HistoryEntry[],
  successLimit: number,
  failureLimit: number,
): string[] {
  let successes = 0;
  let failures = 0;
  const out: string[] = [];
  for (const e of entries) {
    if (e.kind === 'success' && ++successes > successLimit) out.push(e.id);
    if (e.kind === 'failure' && ++failures > failureLimit) out.push(e.id);
  }
  return out;
}
