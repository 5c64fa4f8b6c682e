import { isObj, pick } from './body-fields.js';
import { InvalidRequest } from './errors.js';
import { requirePrintable } from './printable.js';
import type { SessionResult, SessionStatus } from './status.js';

/**
 * Dependency conditions, as Slurm's `--dependency` names them: when a dependency lets its
 * dependent run. Defined once here; the dispatcher's set-based SQL is rendered from these
 * tables (src/persistence/dependency-sql.ts), so JS and SQL cannot disagree.
 */
export const DEPENDENCY_CONDITIONS = ['afterok', 'afterany', 'afternotok'] as const;
export type DependencyCondition = (typeof DEPENDENCY_CONDITIONS)[number];
/** A dependency named without a condition (a plain id or name) waits for its success. */
export const DEFAULT_CONDITION: DependencyCondition = 'afterok';

/** Statuses in which a dependency has ended, for its dependents (ERROR included: it never runs again). */
export const DEPENDENCY_ENDED_STATUSES: readonly SessionStatus[] = ['TERMINATED', 'CANCELLED', 'ERROR'];
/** How an ended dependency counts as a success; every other end is a failure. */
export const DEPENDENCY_SUCCESS = { status: 'TERMINATED', result: 'SUCCESS' } as const;

export type DependencyOutcome = 'success' | 'failure';
/** Which outcomes of an ended dependency each condition accepts; the other outcome breaks it. */
export const CONDITION_ACCEPTS: Record<DependencyCondition, readonly DependencyOutcome[]> = {
  afterok: ['success'],
  afterany: ['success', 'failure'],
  afternotok: ['failure'],
};

export type DependencyState = 'met' | 'waiting' | 'broken';

/** The conditions an ended dependency with this outcome meets (the others it breaks). */
export function conditionsAccepting(outcome: DependencyOutcome): DependencyCondition[] {
  return DEPENDENCY_CONDITIONS.filter((c) => CONDITION_ACCEPTS[c].includes(outcome));
}

/** How a dependency ended (null: it has not). */
export function dependencyOutcome(status: SessionStatus, result: SessionResult): DependencyOutcome | null {
  if (!DEPENDENCY_ENDED_STATUSES.includes(status)) return null;
  return status === DEPENDENCY_SUCCESS.status && result === DEPENDENCY_SUCCESS.result ? 'success' : 'failure';
}

/**
 * Where one dependency stands for its dependent: `met` once it ended as the condition asks,
 * `broken` once it ended otherwise (the condition can no longer hold), `waiting` before it ends.
 */
export function conditionState(
  condition: DependencyCondition,
  status: SessionStatus,
  result: SessionResult,
): DependencyState {
  const outcome = dependencyOutcome(status, result);
  if (outcome === null) return 'waiting';
  return CONDITION_ACCEPTS[condition].includes(outcome) ? 'met' : 'broken';
}

export function isDependencyCondition(v: unknown): v is DependencyCondition {
  return typeof v === 'string' && (DEPENDENCY_CONDITIONS as readonly string[]).includes(v);
}

function checkCondition(v: unknown, field: string): DependencyCondition {
  if (isDependencyCondition(v)) return v;
  throw new InvalidRequest(
    `${field}: unknown condition ${JSON.stringify(v)}; use ${DEPENDENCY_CONDITIONS.join(', ')}.`,
    { data: { field } },
  );
}

/** A dependency as a create request names it: a session id or name, and its condition. */
export interface DependencyRef {
  ref: string;
  condition: DependencyCondition;
}

/** A dependency resolved to the session it waits for (what session_dependencies holds). */
export interface ResolvedDependency {
  id: string;
  condition: DependencyCondition;
}

const MAX_DEPENDENCIES = 64;

/**
 * The `dependencies` of a create body: each a session id or name (afterok), or
 * `{session, condition}`. Throws InvalidRequest naming the entry that is wrong.
 */
export function parseDependencies(v: unknown): DependencyRef[] {
  if (v === undefined) return [];
  if (!Array.isArray(v))
    throw new InvalidRequest('dependencies must be a list of session ids or names, or {session, condition}.');
  if (v.length > MAX_DEPENDENCIES)
    throw new InvalidRequest(`dependencies has more than ${MAX_DEPENDENCIES} entries.`);
  return v.map((item: unknown, i) => {
    const field = `dependencies[${i}]`;
    if (typeof item === 'string' && item !== '')
      return { ref: requirePrintable(item, field), condition: DEFAULT_CONDITION };
    if (isObj(item)) {
      const ref = pick(item, 'session', 'sessionId', 'session_id');
      if (typeof ref !== 'string' || ref === '')
        throw new InvalidRequest(`${field}.session must be a session id or name.`);
      const cond = pick(item, 'condition', 'type');
      return {
        ref: requirePrintable(ref, `${field}.session`),
        condition: cond === undefined ? DEFAULT_CONDITION : checkCondition(cond, `${field}.condition`),
      };
    }
    throw new InvalidRequest(`${field} must be a session id or name, or {session, condition}.`);
  });
}

/**
 * The CLI's `--depends` value: `NAME` (afterok) or `CONDITION:NAME`. Session names and ids
 * hold no `:`, so the prefix is never ambiguous. Throws InvalidRequest for an unknown condition.
 */
export function parseDependsArg(arg: string): { session: string; condition: DependencyCondition } {
  const at = arg.indexOf(':');
  if (at < 0) return { session: arg, condition: DEFAULT_CONDITION };
  const session = arg.slice(at + 1);
  if (session === '') throw new InvalidRequest(`--depends ${arg}: no session after "${arg.slice(0, at)}:".`);
  return { session, condition: checkCondition(arg.slice(0, at), `--depends ${arg}`) };
}

/**
 * Resolved dependencies, one per session: the same session named twice with the same
 * condition counts once; with two conditions it is refused (they could not both hold).
 */
export function mergeDependencies(
  deps: readonly (ResolvedDependency & { ref: string })[],
): ResolvedDependency[] {
  const out = new Map<string, DependencyCondition>();
  for (const d of deps) {
    const known = out.get(d.id);
    if (known !== undefined && known !== d.condition)
      throw new InvalidRequest(
        `dependencies: "${d.ref}" is named with two conditions (${known}, ${d.condition}); give one.`,
      );
    out.set(d.id, d.condition);
  }
  return [...out].map(([id, condition]) => ({ id, condition }));
}
