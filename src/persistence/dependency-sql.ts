import {
  conditionsAccepting,
  DEPENDENCY_ENDED_STATUSES,
  DEPENDENCY_SUCCESS,
  type DependencyCondition,
  type ResolvedDependency,
} from '../domain/dependency-condition.js';
import { START_DEADLINE_APPLIES } from '../domain/start-deadline.js';
import { sqlList, sqlText } from './sql-literals.js';

/**
 * The domain's dependency conditions and start-deadline rule rendered to SQL
 * (src/domain/dependency-condition.ts, src/domain/start-deadline.ts): the dispatcher's
 * set-based statements use these fragments, so JS and SQL apply one rule.
 */

/** The dependency `p` (a sessions row) has ended. */
const ENDED = `p.status IN (${sqlList(DEPENDENCY_ENDED_STATUSES)})`;
/** The dependency `p` ended as a success. */
const SUCCEEDED = `(p.status = ${sqlText(DEPENDENCY_SUCCESS.status)} AND p.result = ${sqlText(DEPENDENCY_SUCCESS.result)})`;

/** `d.condition` (a session_dependencies row) is one of these. */
function conditionIn(conds: readonly DependencyCondition[]): string {
  return conds.length === 0 ? 'false' : `d.condition IN (${sqlList(conds)})`;
}

const OK_ON_SUCCESS = conditionIn(conditionsAccepting('success'));
const OK_ON_FAILURE = conditionIn(conditionsAccepting('failure'));

/** Dependency `p`, under the condition of `d`, lets its dependent run. */
export const DEPENDENCY_MET_SQL = `(${ENDED} AND ((${SUCCEEDED} AND ${OK_ON_SUCCESS}) OR (NOT ${SUCCEEDED} AND ${OK_ON_FAILURE})))`;
/** Dependency `p` ended as the condition of `d` does not accept: the dependent can never run. */
export const DEPENDENCY_BROKEN_SQL = `(${ENDED} AND ((${SUCCEEDED} AND NOT ${OK_ON_SUCCESS}) OR (NOT ${SUCCEEDED} AND NOT ${OK_ON_FAILURE})))`;

/** session_dependencies rows of a new session. */
export function dependencyRows(
  sessionId: string,
  deps: readonly ResolvedDependency[],
): { session_id: string; depends_on: string; condition: DependencyCondition }[] {
  return deps.map((d) => ({ session_id: sessionId, depends_on: d.id, condition: d.condition }));
}

/** The instant by which session `s` must be placed (NULL: no deadline). */
export const START_DEADLINE_AT_SQL = `(coalesce(s.starts_at, s.created_at) + make_interval(secs => s.start_deadline_seconds))`;
/** Session `s` is subject to its start deadline (the first attempt, still PENDING). */
export const START_DEADLINE_APPLIES_SQL =
  `(s.status = ${sqlText(START_DEADLINE_APPLIES.status)} AND s.attempt = ${Number(START_DEADLINE_APPLIES.attempt)}` +
  ` AND s.start_deadline_seconds IS NOT NULL)`;
