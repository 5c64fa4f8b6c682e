import { templateParts, WAIT_REASONS, type Dependency, type WaitReason } from '../domain/predicates.js';
import type { Slots } from '../domain/resources.js';
import { ACTIVE_STATUSES } from '../domain/status.js';
import {
  DEPENDENCY_BROKEN_SQL,
  DEPENDENCY_MET_SQL,
  START_DEADLINE_APPLIES_SQL,
  START_DEADLINE_AT_SQL,
} from './dependency-sql.js';
import { sqlList, sqlText } from './sql-literals.js';
import { unindexedGuard } from './unindexed-guard.js';

/**
 * The dispatcher's set-based SQL: predicates rendered in SQL from the domain's templates, and
 * the pass's survey (SchedulerStore.survey), which explains every session that cannot run now
 * and reads what the pass acts on, in one statement.
 */

/** How a timestamp column reads in a predicate's message or an event (as Date.toISOString writes it). */
export const isoSql = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The queue's order, everywhere the dispatcher ranks PENDING sessions (`t`: the table or CTE
 * alias): priority, then first come, then an array's index, then the id (sessions of one group
 * commit can share their created_at; the id makes the order total, so a head read in it is the
 * head of the whole queue). `sessions_pending_queue_idx` holds the PENDING sessions of a group
 * in this order.
 */
export const queueOrder = (t: string) => `${t}.priority DESC, ${t}.created_at, ${t}.array_index, ${t}.id`;

/**
 * An UPDATE (for a data-modifying CTE) writing `preds` as the predicates of the sessions ranked
 * past their room (`ranked`'s `rank` over `room`, ids picked from one scan of the ranking and
 * read through sessions_pkey, their status a guard no index matches), joined to their row of
 * `roomCte` by `joinOn` (over `s` and `r`); a session whose predicates already say so is not
 * written again.
 */
export function predicatesPastRoom(opts: {
  ranked: string;
  rank: string;
  room: string;
  roomCte: string;
  joinOn: string;
  preds: string;
}): string {
  const { ranked, rank, room, roomCte, joinOn, preds } = opts;
  return `UPDATE sessions s SET status_data = s.status_data || jsonb_build_object('predicates', ${preds})
        FROM ${roomCte} r
       WHERE s.id = ANY (ARRAY(SELECT id FROM ${ranked} WHERE ${rank} > ${room}))
         AND ${joinOn} AND ${unindexedGuard(`s.status = 'PENDING'`)}
         AND (s.status_data -> 'predicates') IS DISTINCT FROM ${preds}
      RETURNING s.id`;
}

/**
 * A wait reason's predicate as a PostgreSQL expression: `[{name, msg}]`, the message rendered
 * from the domain's template with each hole filled by the SQL expression given for it.
 */
export function predicatesSql(reason: WaitReason, holes: Record<string, string> = {}): string {
  const msg = templateParts(reason)
    .map((p) => {
      if ('text' in p) return sqlText(p.text);
      const expr = holes[p.hole];
      if (expr === undefined) throw new Error(`predicate ${reason}: no SQL for {${p.hole}}`);
      return `(${expr})::text`;
    })
    .join(' || ');
  return `jsonb_build_array(jsonb_build_object('name', ${sqlText(WAIT_REASONS[reason].name)}, 'msg', ${msg}))`;
}

/** A dependency `p` (a sessions row) that does not let its dependent run yet (`d`: its condition). */
export const NOT_MET = `NOT ${DEPENDENCY_MET_SQL}`;
/** Session `s` has a dependency whose condition can no longer hold. */
const BROKEN_DEPENDENCY = `EXISTS (SELECT 1 FROM session_dependencies d JOIN sessions p ON p.id = d.depends_on
   WHERE d.session_id = s.id AND ${DEPENDENCY_BROKEN_SQL})`;
/**
 * Session `s` is PENDING with dependencies the survey examines: not found blocked since its
 * dependencies last changed (`deps_blocked`, cleared when one ends; migration 20261202180000).
 * A blocked session waits on a dependency that has not ended and has none broken: nothing about
 * it changes until one of them ends, so no pass reads it.
 */
const EXAMINED_DEPENDENT = `s.status = 'PENDING' AND s.has_dependencies AND NOT s.deps_blocked AND NOT s.deps_met`;
/** Session `s` is past its start deadline at the time `at` (an SQL expression). */
export const pastStartDeadline = (at: string) =>
  `(${START_DEADLINE_APPLIES_SQL} AND ${START_DEADLINE_AT_SQL} <= ${at})`;

/**
 * Scaling group `g` has PENDING sessions: a probe per group that stops at the first one. The
 * `OFFSET 0` keeps PostgreSQL from making the EXISTS a join, which it planned (statistics that
 * saw few PENDING sessions) as a hash of every PENDING session of every group, on every pass.
 */
const GROUP_HAS_PENDING = `EXISTS (SELECT 1 FROM sessions s WHERE s.scaling_group = g.name AND s.status = 'PENDING' OFFSET 0)`;

/** The slots each live kernel of agent `a` holds, as a jsonb array. */
export const AGENT_HELD_SQL = `(SELECT coalesce(jsonb_agg(k.occupied_slots), '[]'::jsonb) FROM kernels k
   WHERE k.agent_id = a.id AND k.status IN (${sqlList(ACTIVE_STATUSES)}))`;

/** The schedulable agents of scaling group `g`, each with the slots its live kernels hold (jsonb). */
const GROUP_AGENTS = `(SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', a.id, 'total', a.available_slots, 'architecture', a.architecture,
           'placements', a.placements, 'held', ${AGENT_HELD_SQL})), '[]'::jsonb)
    FROM agents a
   WHERE a.scaling_group = g.name AND a.status = 'ALIVE' AND a.schedulable
     AND coalesce(a.status_info, '') NOT IN ('draining', 'engine-unavailable'))`;

/**
 * Whether any PENDING session, in any group, is one the survey has anything to say about: it
 * has a starts_at (the `later` explainer, `later_at`), a backoff it waits out of the queue
 * (`due_retry`, `backoff_at`), a start deadline (`next_deadline`, `expired`) or a dependency
 * (`deps`, `broken`). A retry whose backoff is over is in the queue and not one of them: the
 * runnable scan checks its retry_after (a backoff not over is flagged by the move back to
 * PENDING, migrations 20261203120000 and 20261203140000). When none is, every explainer of
 * the survey updates nothing and every list and instant it returns is empty, whatever the
 * time: that is what the glance (GLANCE_SQL) tells the pass. Dependents count only while the
 * survey has them to examine (a dependency of theirs ended, or they are new:
 * `has_dependencies`, kept by a trigger on session_dependencies, and the flags of migration
 * 20261202180000). Each kind is a probe of an index that holds those sessions alone, however
 * many PENDING sessions there are; the survey reads each kind from the same index (one index
 * of them all was the plan for every part of the survey, each then reading every session with
 * a starts_at).
 */
const ANY_PENDING_UNUSUAL = `(EXISTS (SELECT 1 FROM sessions s
             WHERE s.status = 'PENDING' AND s.starts_at IS NOT NULL AND NOT s.due_later)
   OR EXISTS (SELECT 1 FROM sessions s WHERE s.status = 'PENDING' AND s.due_later AND s.retry_after IS NULL)
   OR EXISTS (SELECT 1 FROM sessions s WHERE s.status = 'PENDING' AND s.due_later AND s.retry_after IS NOT NULL)
   OR EXISTS (SELECT 1 FROM sessions s WHERE s.status = 'PENDING' AND s.start_deadline_seconds IS NOT NULL)
   OR EXISTS (SELECT 1 FROM sessions s
               WHERE s.status = 'PENDING' AND s.has_dependencies AND NOT s.deps_blocked AND NOT s.deps_met))`;

/**
 * The pass's glance (SchedulerStore.glance): whether the survey is needed at all
 * (ANY_PENDING_UNUSUAL), and the scaling groups with PENDING sessions with their agents, as
 * the survey reads them. Always one row at least (a null group when no group has PENDING
 * sessions), so the answer comes even then. No parameters: PostgreSQL plans it once per
 * connection (generic plan), where the survey is planned anew whenever its cached plan is
 * invalidated (docs/benchmarks.md, round six).
 */
export const GLANCE_SQL = `SELECT u.unusual, g.scaling_group, g.agents
  FROM (SELECT ${ANY_PENDING_UNUSUAL} AS unusual) u
  LEFT JOIN LATERAL (SELECT g.name AS scaling_group, ${GROUP_AGENTS} AS agents
                       FROM scaling_groups g
                      WHERE ${GROUP_HAS_PENDING}) g ON true`;

/** A row of the glance: a scaling group with PENDING sessions (null: none), and the flag. */
export interface GlanceRow {
  unusual: boolean;
  scaling_group: string | null;
  agents: SurveyRow['agents'] | null;
}

/** A row of the survey: one scaling group with PENDING sessions. */
export interface SurveyRow {
  scaling_group: string;
  /** Sessions this survey put in the group's queue: dependents found met, sessions come due. */
  joined: number;
  later_at: Date | null;
  backoff_at: Date | null;
  next_deadline: Date | null;
  expired: { id: string; seconds: number; deadline: string }[];
  broken: {
    id: string;
    dep_id: string;
    dep_status: Dependency['status'];
    dep_result: Dependency['result'];
    dep_condition: Dependency['condition'];
  }[];
  agents: AgentSurveyRow[];
}

/**
 * An agent as the survey, the glance and a placement's own read return it: its slots, what each
 * of its live kernels holds, and its count of placements (a number in jsonb, bigint text alone).
 */
export interface AgentSurveyRow {
  id: string;
  total: Slots;
  architecture?: string;
  placements: number | string;
  held: Slots[];
}

/**
 * The survey (see SchedulerStore.survey). Its two explainers are data-modifying CTEs over
 * disjoint sets of PENDING sessions (PostgreSQL runs each to completion, and the SELECT sees the
 * rows as they were before them, which is what it reads: starts_at, retry_after, dependencies,
 * agents — no explainer changes those), so one statement writes what the two did one after
 * the other:
 *  - `later`: starts_at beyond the horizon, written once (no predicate yet), for a session never
 *    sent back for a retry (a retry's starts_at is behind it: it was placed);
 *  - `deps`: due and past any backoff, a dependency not met; not the sessions this pass
 *    cancels (a broken dependency, a start deadline passed): the explainer used to run after
 *    those were cancelled. Only sessions not found blocked since their dependencies last
 *    changed (EXAMINED_DEPENDENT); each it explains is marked `deps_blocked`, unless its
 *    `deps_epoch` moved since the statement's snapshot (a dependency ended meanwhile) or another
 *    transaction holds its row (SKIP LOCKED: the survey never waits on an exit, whose trigger
 *    locks the dependents it wakes); those are examined again by the next pass.
 * Beside them, `due` and `due_retry` put back in the queue the flagged sessions that are due:
 * for their starts_at (no retry_after), or once their backoff is over. Each reads its own index
 * of flagged sessions (migration 20261203120000), so neither reads the other's. A retry's
 * backoff needs no explainer: its move back to PENDING wrote its predicate and flagged it
 * (requeueForRetryIn; migration 20261203140000 did so for those sent back before).
 * Bindings are positional, collected in the order the text names them.
 */
export function surveySql(
  horizon: Date,
  now: Date,
  limit: number,
): { sql: string; bindings: (Date | number)[] } {
  const bindings: (Date | number)[] = [];
  const bind = (v: Date | number) => {
    bindings.push(v);
    return '?';
  };
  const laterPreds = predicatesSql('startsAt', { startsAt: isoSql('s.starts_at') });
  /** The dependents `dw` and `dm` examine: due and past any backoff (not those `due` clears). */
  const examinedNow = () => `${EXAMINED_DEPENDENT} AND NOT s.due_later
         AND (s.starts_at IS NULL OR s.starts_at <= ${bind(horizon)})
         AND (s.retry_after IS NULL OR s.retry_after <= ${bind(now)})`;
  const depPreds = predicatesSql('dependencies', {
    sessions: `string_agg(p.id::text, ', ' ORDER BY p.id::text)`,
  });
  const sql = `WITH later AS (
      UPDATE sessions s SET due_later = true,
             status_data = s.status_data || jsonb_build_object('predicates', ${laterPreds})
       WHERE s.status = 'PENDING' AND s.starts_at IS NOT NULL AND NOT s.due_later
         AND s.starts_at > ${bind(horizon)} AND s.status_data -> 'predicates' IS NULL
         AND s.retry_after IS NULL
      RETURNING 1
    ), due AS (
      UPDATE sessions s SET due_later = false
       WHERE s.status = 'PENDING' AND s.due_later AND s.retry_after IS NULL AND s.starts_at <= ${bind(horizon)}
      RETURNING s.scaling_group
    ), due_retry AS (
      UPDATE sessions s SET due_later = false
       WHERE s.id = ANY (ARRAY(SELECT pending_retries_due(${bind(now)})))
         AND ${unindexedGuard(`s.status = 'PENDING' AND s.due_later`)}
      RETURNING s.scaling_group
    ), dw AS MATERIALIZED (
      SELECT d.session_id, s.deps_epoch AS epoch, ${depPreds} AS preds
        FROM sessions s
        JOIN session_dependencies d ON d.session_id = s.id
        JOIN sessions p ON p.id = d.depends_on
       WHERE ${examinedNow()}
         AND ${NOT_MET}
         AND NOT ${BROKEN_DEPENDENCY}
         AND NOT (s.array_size IS NULL AND ${pastStartDeadline(bind(now))})
       GROUP BY d.session_id, s.deps_epoch
    ), dm AS MATERIALIZED (
      SELECT s.id, s.deps_epoch AS epoch
        FROM sessions s
        LEFT JOIN session_dependencies d ON d.session_id = s.id
        LEFT JOIN sessions p ON p.id = d.depends_on
       WHERE ${examinedNow()}
       GROUP BY s.id, s.deps_epoch
      HAVING bool_and(d.session_id IS NULL OR ${DEPENDENCY_MET_SQL})
    ), dl AS (
      SELECT x.id FROM sessions x
       WHERE x.id = ANY (ARRAY(SELECT session_id FROM dw UNION ALL SELECT id FROM dm))
         AND ${unindexedGuard(`x.status = 'PENDING'`)}
         FOR NO KEY UPDATE SKIP LOCKED
    ), met AS (
      UPDATE sessions t SET deps_met = true
        FROM dm
       WHERE t.id = ANY (ARRAY(SELECT id FROM dl)) AND t.id = dm.id AND t.deps_epoch = dm.epoch
      RETURNING t.scaling_group
    ), deps AS (
      UPDATE sessions t SET deps_blocked = true,
             status_data = CASE WHEN (t.status_data -> 'predicates') IS DISTINCT FROM dw.preds
                                THEN t.status_data || jsonb_build_object('predicates', dw.preds)
                                ELSE t.status_data END
        FROM dw
       WHERE t.id = ANY (ARRAY(SELECT id FROM dl)) AND t.id = dw.session_id AND t.deps_epoch = dw.epoch
      RETURNING 1
    )
    SELECT g.name AS scaling_group,
      ((SELECT count(*) FROM met WHERE met.scaling_group = g.name)
        + (SELECT count(*) FROM due WHERE due.scaling_group = g.name)
        + (SELECT count(*) FROM due_retry WHERE due_retry.scaling_group = g.name))::int AS joined,
      pending_later_at(g.name, ${bind(horizon)}) AS later_at,
      (SELECT min(s.retry_after) FROM sessions s
        WHERE s.scaling_group = g.name AND s.status = 'PENDING' AND s.due_later
          AND s.retry_after IS NOT NULL AND s.retry_after > ${bind(now)}) AS backoff_at,
      (SELECT min(${START_DEADLINE_AT_SQL}) FROM sessions s
        WHERE s.scaling_group = g.name AND ${START_DEADLINE_APPLIES_SQL} AND s.array_size IS NULL
          AND ${START_DEADLINE_AT_SQL} > ${bind(now)}) AS next_deadline,
      (SELECT coalesce(jsonb_agg(e ORDER BY e.deadline), '[]'::jsonb)
         FROM (SELECT s.id, s.start_deadline_seconds AS seconds, ${START_DEADLINE_AT_SQL} AS deadline
                 FROM sessions s
                WHERE s.scaling_group = g.name AND ${pastStartDeadline(bind(now))} AND s.array_size IS NULL
                ORDER BY 3 LIMIT ${bind(limit)}) e) AS expired,
      (SELECT coalesce(jsonb_agg(b), '[]'::jsonb)
         FROM (SELECT DISTINCT ON (s.id) s.id, p.id AS dep_id, p.status AS dep_status,
                      p.result AS dep_result, d.condition AS dep_condition
                 FROM sessions s
                 JOIN session_dependencies d ON d.session_id = s.id
                 JOIN sessions p ON p.id = d.depends_on
                WHERE s.scaling_group = g.name AND ${EXAMINED_DEPENDENT} AND ${DEPENDENCY_BROKEN_SQL}
                ORDER BY s.id
                LIMIT ${bind(limit)}) b) AS broken,
      ${GROUP_AGENTS} AS agents
      FROM scaling_groups g
     WHERE ${GROUP_HAS_PENDING}`;
  return { sql, bindings };
}
