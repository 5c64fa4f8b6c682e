import {
  conditionState,
  DEFAULT_CONDITION,
  type DependencyCondition,
  type DependencyState,
} from './dependency-condition.js';
import { START_DEADLINE_EXCEEDED, startDeadlineExceeded } from './start-deadline.js';
import type { SessionResult, SessionStatus } from './status.js';

/**
 * Why a PENDING session cannot run yet: each reason's name (what `status_data.predicates` and
 * `bai session info` show) and its message, defined once here. The dispatcher explains waiting
 * sessions set-based in SQL: the store renders the same templates into SQL (`{…}` holes filled
 * with column expressions), so the text a session shows is the same whichever side wrote it.
 */
export interface Predicate {
  name: string;
  msg: string;
}

/** Each reason a session waits: the predicate's name and its message, `{hole}`s to fill. */
export const WAIT_REASONS = {
  /** starts_at is later than the lead window. */
  startsAt: { name: 'starts_at', template: 'waits until {startsAt}' },
  /** A failed attempt waits out its retry backoff. */
  retryBackoff: { name: 'retry_backoff', template: 'retrying at {retryAfter}' },
  /** A dependency has not ended yet (`{sessions}`: their ids, sorted, comma-separated). */
  dependencies: { name: 'dependencies', template: 'waits for {sessions}' },
  /** The keypair already runs max_concurrent_sessions sessions. */
  keypairConcurrency: { name: 'keypair_concurrency', template: 'keypair runs its limit of {limit} sessions' },
  /** The array already has its parallelism's worth of children placed or running. */
  arrayParallelism: { name: 'array_parallelism', template: 'array runs its limit of {limit} children' },
  /** No schedulable agent in the scaling group. */
  noAgent: { name: 'capacity', template: 'no agent in the scaling group' },
  /** Agents exist but none has room for the session now. */
  noRoom: { name: 'capacity', template: 'waits for free resources' },
} as const;

export type WaitReason = keyof typeof WAIT_REASONS;
type Value = string | number | Date | readonly string[];

/** A time as a predicate shows it (Date.toISOString; the SQL renderer formats columns alike). */
function predicateTime(d: Date): string {
  return d.toISOString();
}

function show(v: Value): string {
  if (v instanceof Date) return predicateTime(v);
  if (Array.isArray(v)) return [...(v as readonly string[])].sort().join(', ');
  return String(v);
}

/** Fills a reason's template: `predicate('startsAt', { startsAt })`. */
export function predicate(reason: WaitReason, values: Record<string, Value> = {}): Predicate {
  const { name, template } = WAIT_REASONS[reason];
  const msg = template.replace(/\{(\w+)\}/g, (_m, hole: string) => {
    const v = values[hole];
    if (v === undefined) throw new Error(`predicate ${reason}: no value for {${hole}}`);
    return show(v);
  });
  return { name, msg };
}

/** The literal parts and holes of a reason's template, in order (for the SQL renderer). */
export function templateParts(reason: WaitReason): ({ text: string } | { hole: string })[] {
  const out: ({ text: string } | { hole: string })[] = [];
  const re = /\{(\w+)\}/g;
  const t = WAIT_REASONS[reason].template;
  let last = 0;
  for (let m = re.exec(t); m; m = re.exec(t)) {
    if (m.index > last) out.push({ text: t.slice(last, m.index) });
    out.push({ hole: m[1]! });
    last = re.lastIndex;
  }
  if (last < t.length) out.push({ text: t.slice(last) });
  return out;
}

/** The capacity predicate of a session the placement left out. */
export function capacityPredicate(agentsInGroup: number): Predicate {
  return predicate(agentsInGroup === 0 ? 'noAgent' : 'noRoom');
}

/**
 * Whether `stored` (a session's status_data.predicates as read back from PostgreSQL) already
 * says `preds`. Compared field by field: jsonb keeps object keys in its own order (shorter
 * keys first), so the stored JSON text never equals `JSON.stringify(preds)`; comparing the
 * texts rewrote every waiting session's predicates on every dispatch pass.
 */
export function samePredicates(stored: unknown, preds: readonly Predicate[]): boolean {
  if (!Array.isArray(stored) || stored.length !== preds.length) return false;
  return preds.every((p, i) => {
    const s = stored[i] as Partial<Predicate> | null;
    return (
      s !== null &&
      typeof s === 'object' &&
      s.name === p.name &&
      s.msg === p.msg &&
      Object.keys(s).length === 2
    );
  });
}

export type { DependencyState } from './dependency-condition.js';

/**
 * Where one dependency stands for its dependent, by the dependency's condition (default
 * afterok: met when it ended TERMINATED/SUCCESS, broken when it ended otherwise).
 */
export function dependencyState(
  status: SessionStatus,
  result: SessionResult,
  condition: DependencyCondition = DEFAULT_CONDITION,
): DependencyState {
  return conditionState(condition, status, result);
}

export interface Dependency {
  id: string;
  status: SessionStatus;
  result: SessionResult;
  /** Absent: afterok. */
  condition?: DependencyCondition;
}

/** status_info of a session cancelled because a dependency ended badly. */
export const DEPENDENCY_FAILED = 'dependency-failed';

/** How a session cancelled for a broken dependency says which (its status_data). */
export function dependencyFailure(dep: Dependency): {
  dependency: { sessionId: string; status: string; result: string; condition: DependencyCondition };
} {
  const condition = dep.condition ?? DEFAULT_CONDITION;
  return { dependency: { sessionId: dep.id, status: dep.status, result: dep.result, condition } };
}

/** What a PENDING session's facts say: cancel it, let it wait (and why), or try to place it. */
export type Verdict =
  | { kind: 'cancel'; info: typeof DEPENDENCY_FAILED; data: ReturnType<typeof dependencyFailure> }
  | { kind: 'cancel'; info: typeof START_DEADLINE_EXCEEDED; data: ReturnType<typeof startDeadlineExceeded> }
  | { kind: 'wait'; predicates: Predicate[] }
  | { kind: 'place' };

export interface WaitFacts {
  now: Date;
  /** How far ahead of starts_at a session is placed (the agent prepares meanwhile). */
  startLeadMs: number;
  startsAt: Date | null;
  retryAfter: Date | null;
  dependencies: readonly Dependency[];
  /** Sessions of the keypair that would run before this one, and what the policy allows. */
  keypair: { ahead: number; active: number; limit: number } | null;
  /** The start deadline, when one applies (src/domain/start-deadline.ts). */
  startDeadline?: { seconds: number; at: Date } | null;
}

/**
 * The rules in the order the dispatcher applies them: a dependency whose condition can no
 * longer hold cancels the session (whatever else it waits for), then a start deadline that
 * passed does; a starts_at beyond the lead window makes it wait, then a retry backoff, then
 * dependencies still running, then the keypair's concurrency limit; a session past all of them
 * waits only for capacity (capacityPredicate). The dispatcher's set-based statements
 * (SchedulerStore) follow this order.
 */
export function whyWaits(f: WaitFacts): Verdict {
  const broken = [...f.dependencies]
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .find((d) => dependencyState(d.status, d.result, d.condition) === 'broken');
  if (broken) return { kind: 'cancel', info: DEPENDENCY_FAILED, data: dependencyFailure(broken) };
  const dl = f.startDeadline;
  if (dl && dl.at.getTime() <= f.now.getTime())
    return { kind: 'cancel', info: START_DEADLINE_EXCEEDED, data: startDeadlineExceeded(dl.seconds, dl.at) };
  if (f.startsAt && f.startsAt.getTime() > f.now.getTime() + f.startLeadMs)
    return { kind: 'wait', predicates: [predicate('startsAt', { startsAt: f.startsAt })] };
  if (f.retryAfter && f.retryAfter.getTime() > f.now.getTime())
    return { kind: 'wait', predicates: [predicate('retryBackoff', { retryAfter: f.retryAfter })] };
  const open = f.dependencies
    .filter((d) => dependencyState(d.status, d.result, d.condition) !== 'met')
    .map((d) => d.id);
  if (open.length > 0) return { kind: 'wait', predicates: [predicate('dependencies', { sessions: open })] };
  if (f.keypair && f.keypair.ahead + f.keypair.active >= f.keypair.limit)
    return { kind: 'wait', predicates: [predicate('keypairConcurrency', { limit: f.keypair.limit })] };
  return { kind: 'place' };
}
