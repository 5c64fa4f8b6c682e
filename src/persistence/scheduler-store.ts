import type { Dependency, Predicate } from '../domain/predicates.js';
import { ACTIVE_STATUSES } from '../domain/status.js';
import { arrayGateCtes } from './array-store.js';
import type { Db } from './db.js';
import { preparedRaw } from './prepared.js';
import {
  agentReadingOf,
  commitPlacement,
  type AgentReading,
  type Placed,
  type RunnableSession,
} from './placement-commit.js';
import {
  GLANCE_SQL,
  pastStartDeadline,
  predicatesSql,
  surveySql,
  UNMET_DEPENDENCY,
  type GlanceRow,
  type SurveyRow,
} from './scheduler-sql.js';
import type { SessionStore } from './session-store.js';
import { sqlList } from './sql-literals.js';

/** What a pass learns of one scaling group with PENDING sessions before it scans it. */
export interface GroupSurvey {
  group: string;
  /** The first starts_at beyond the horizon (null: none). */
  laterAt: Date | null;
  /** The first retry backoff to end (null: none). */
  backoffAt: Date | null;
  /** The next start deadline still to come (null: none). */
  nextDeadline: Date | null;
  /** PENDING first attempts past their start deadline, the earliest first (up to the limit). */
  expired: { id: string; seconds: number; deadline: Date }[];
  /** PENDING sessions one of whose dependency conditions can no longer hold (one such dependency each). */
  broken: { id: string; dependency: Dependency }[];
  /** The schedulable agents of the group, with what their sessions hold. */
  agents: AgentReading[];
}

/**
 * What the dispatcher reads and writes: PENDING sessions by scaling group and why each waits
 * (predicates written set-based, so however many wait a pass costs the same), agents'
 * capacities, and the placement of sessions on an agent (guarded moves of sessions and their
 * kernels, with their events).
 */
export class SchedulerStore {
  private readonly passDb: Db;
  private readonly scanDb: Db;
  private readonly placeDb: Db;

  /**
   * `pools.pass`: where the pass's reads run (the glance, the survey), a pool of one connection
   * of its own when the manager has one (passes never overlap): PostgreSQL keeps a prepared
   * statement's plans per connection, so one connection plans them once (and again after each
   * autovacuum of their tables) where sixteen pooled ones each did, five custom plans first
   * (docs/benchmarks.md, round six). `pools.scan`: where the runnable scan runs, a connection
   * of its own as well, so that a pass's scans can run beside its survey (early-scans.ts).
   * `pools.place`: where placements commit, generic-plan connections of their own too: on
   * `db`'s sixteen, PLACE_SQL was planned anew at nearly every call, about a millisecond each
   * on the way of every session (docs/benchmarks.md, round sixteen). Each defaults to the one
   * before it, the first to `db`.
   */
  constructor(
    private readonly db: Db,
    private readonly sessions: SessionStore,
    pools: { pass?: Db; scan?: Db; place?: Db } = {},
  ) {
    this.passDb = pools.pass ?? db;
    this.scanDb = pools.scan ?? this.passDb;
    this.placeDb = pools.place ?? db;
  }

  /**
   * What a dispatch pass needs before its scans, for every scaling group with PENDING sessions:
   * the set-based explanations of the sessions that cannot run now (a later starts_at, a retry
   * backoff, a dependency not met; scheduler-sql.ts says why one statement writes what three
   * did in turn), and per group the next instants the wake-up timer needs, the sessions to
   * cancel, and its agents' capacities.
   *
   * First the glance (GLANCE_SQL: no parameters, so one generic plan per connection): when no
   * PENDING session has a starts_at, a retry_after, a start deadline or a dependency, the survey
   * statement would write nothing and return no instants and no sessions to cancel, so the
   * glance's groups and agents are the answer. Otherwise the survey statement runs, as one
   * statement (it was seven a group). The survey is large and PostgreSQL planned it anew on
   * every pass whose cached plan autovacuum had invalidated (docs/benchmarks.md, round six).
   */
  async survey(horizon: Date, now: Date, limit: number): Promise<GroupSurvey[]> {
    const glance = await this.glance();
    if (glance) return glance;
    const { sql, bindings } = surveySql(horizon, now, limit);
    const { rows } = (await preparedRaw(this.passDb, 'bai_survey', sql, bindings)) as { rows: SurveyRow[] };
    return rows.map((r) => ({
      group: r.scaling_group,
      laterAt: r.later_at,
      backoffAt: r.backoff_at,
      nextDeadline: r.next_deadline,
      expired: r.expired.map((e) => ({ id: e.id, seconds: e.seconds, deadline: new Date(e.deadline) })),
      broken: r.broken.map((x) => ({
        id: x.id,
        dependency: { id: x.dep_id, status: x.dep_status, result: x.dep_result, condition: x.dep_condition },
      })),
      agents: r.agents.map(agentReadingOf),
    }));
  }

  /** The survey's answer from the glance alone, or null when the survey statement is needed. */
  private async glance(): Promise<GroupSurvey[] | null> {
    const { rows } = (await preparedRaw(this.passDb, 'bai_glance', GLANCE_SQL)) as { rows: GlanceRow[] };
    if (rows.some((r) => r.unusual)) return null;
    return rows
      .filter((r) => r.scaling_group !== null)
      .map((r) => ({
        group: r.scaling_group!,
        laterAt: null,
        backoffAt: null,
        nextDeadline: null,
        expired: [],
        broken: [],
        agents: (r.agents ?? []).map(agentReadingOf),
      }));
  }

  /**
   * The sessions of the group that can run now but for capacity, in priority then FIFO order:
   * due, past any backoff, every dependency's condition met, not past a start deadline, and within their
   * keypair's room under `max_concurrent_sessions` (ranked per keypair in the same order).
   * Those beyond their keypair's room get `keypair_concurrency` written, in the same statement.
   * Only the first `limit` come back (`total`: how many there are); those after them get
   * `waiting` as their predicates, in the same statement: the dispatcher reads them only when
   * the first ones leave an agent open to them (Dispatcher.passGroup), and otherwise they wait
   * for capacity, as the ones read and not placed do.
   */
  async runnable(
    group: string,
    horizon: Date,
    now: Date,
    limit: number,
    waiting: readonly Predicate[],
  ): Promise<{ rows: RunnableSession[]; total: number }> {
    const limitPreds = predicatesSql('keypairConcurrency', { limit: 'r.kp_limit' });
    const arrayPreds = predicatesSql('arrayParallelism', { limit: 'r.arr_limit' });
    // Array parents are never placed (nor counted as the keypair's sessions); array children
    // pass the array's parallelism gate (arrayGateCtes) before the keypair's.
    // Each value bound is read through a sub-select: a custom plan then knows no more than the
    // generic one, so PostgreSQL's plan cache settles on the generic plan after its five first
    // calls on a connection instead of planning the scan anew on every pass (a custom plan
    // costed lower when it could see the group, the times and the limit: docs/benchmarks.md,
    // round six). The plan stays an index scan of the group's PENDING sessions.
    // The sessions beyond their keypair's room are picked by id from one scan of the ranking
    // (an array, read through sessions_pkey) and joined to `room` (a row per keypair), not
    // joined to the ranking itself: with the CTEs' row estimates of 1, that join was a nested
    // loop that re-read the whole ranking for every PENDING session of the group, n² rows a
    // pass (docs/benchmarks.md, round twelve).
    // A pass places a few sessions: it reads a page of them, not every one that waits
    // (`limit`; the manager parsed, fitted and compared the predicates of the whole backlog on
    // every pass: docs/benchmarks.md, round thirteen).
    const waitingJson = JSON.stringify(waiting);
    const { rows } = (await preparedRaw(
      this.scanDb,
      'bai_runnable',
      `WITH cand0 AS MATERIALIZED (
         SELECT ${CANDIDATE_COLUMNS} FROM sessions s
          WHERE s.scaling_group = (SELECT ?::text) AND s.status = 'PENDING' AND s.array_size IS NULL
            AND (s.starts_at IS NULL OR s.starts_at <= (SELECT ?::timestamptz))
            AND (s.retry_after IS NULL OR s.retry_after <= (SELECT ?::timestamptz))
            AND NOT ${UNMET_DEPENDENCY}
            AND NOT ${pastStartDeadline('(SELECT ?::timestamptz)')}
       ), ${arrayGateCtes('cand0', 'cand', arrayPreds)}, room AS MATERIALIZED (
         SELECT k.access_key, p.max_concurrent_sessions AS kp_limit,
                p.max_concurrent_sessions
                  - (SELECT count(*) FROM sessions a WHERE a.access_key = k.access_key AND a.status IN (${sqlList(ACTIVE_STATUSES)}) AND a.array_size IS NULL) AS kp_room
           FROM keypairs k JOIN keypair_resource_policies p ON p.name = k.resource_policy
          WHERE k.access_key IN (SELECT DISTINCT access_key FROM cand)
       ), ranked AS (
         SELECT c.*, r.kp_limit,
                row_number() OVER (PARTITION BY c.access_key ORDER BY c.priority DESC, c.created_at, c.array_index) AS kp_rank,
                coalesce(r.kp_room, 2147483647) AS kp_room
           FROM cand c LEFT JOIN room r ON r.access_key = c.access_key
       ), over_limit AS (
         UPDATE sessions s SET status_data = s.status_data || jsonb_build_object('predicates', ${limitPreds})
           FROM room r
          WHERE s.id = ANY (ARRAY(SELECT id FROM ranked WHERE kp_rank > kp_room))
            AND r.access_key = s.access_key AND s.status = 'PENDING'
            AND (s.status_data -> 'predicates') IS DISTINCT FROM ${limitPreds}
         RETURNING s.id
       ), runnable AS MATERIALIZED (
         SELECT r.*, row_number() OVER (ORDER BY r.priority DESC, r.created_at, r.array_index) AS pos
           FROM ranked r WHERE r.kp_rank <= r.kp_room
       ), beyond AS (
         UPDATE sessions s SET status_data = s.status_data || jsonb_build_object('predicates', (SELECT ?::jsonb))
          WHERE s.id = ANY (ARRAY(SELECT id FROM runnable
                                   WHERE pos > (SELECT ?::int) AND predicates IS DISTINCT FROM (SELECT ?::jsonb)))
            AND s.status = 'PENDING'
            AND (s.status_data -> 'predicates') IS DISTINCT FROM (SELECT ?::jsonb)
         RETURNING s.id
       )
       SELECT ${RUNNABLE_COLUMNS.join(', ')}, (SELECT count(*) FROM runnable)::int AS total
         FROM runnable WHERE pos <= (SELECT ?::int) ORDER BY pos`,
      [group, horizon, now, now, waitingJson, limit, waitingJson, waitingJson, limit],
    )) as { rows: (RunnableSession & { total: number })[] };
    return { rows, total: rows[0]?.total ?? 0 };
  }

  /**
   * Writes the predicates of PENDING sessions, in one statement however many (callers skip
   * those whose predicates did not change); one text, so parsed once per connection.
   */
  async writePredicates(list: { id: string; predicates: Predicate[] }[]): Promise<void> {
    if (list.length === 0) return;
    await preparedRaw(
      this.db,
      'bai_write_predicates',
      `UPDATE sessions s SET status_data = s.status_data || jsonb_build_object('predicates', v.predicates)
         FROM jsonb_to_recordset(?::jsonb) AS v(id uuid, predicates jsonb)
        WHERE s.id = v.id AND s.status = 'PENDING'`,
      [JSON.stringify(list)],
    );
  }

  /**
   * Places sessions on one agent, from `seen` (the pass's reading of it) or from a new reading,
   * in one statement that commits only if no other placement on the agent committed since that
   * reading (so two managers never over-commit it): each session that still fits moves
   * PENDING → SCHEDULED with its kernels, guarded, with their events (placement-commit.ts).
   * Returns those placed, each with its kernels; none when the agent is gone. The caller
   * notifies after commit.
   */
  async commitPlacement(
    agentId: string,
    list: readonly RunnableSession[],
    seen: AgentReading | null = null,
  ): Promise<Placed[]> {
    return commitPlacement(this.placeDb, this.sessions, agentId, list, seen);
  }
}

/**
 * What the runnable scan reads of each candidate: what placement needs (RunnableSession) and
 * what its ranking and gates order and partition by, not the whole row (a pass reads every
 * session that can run but for capacity, to place a few: parsing each one's every column,
 * dates and jsonb, was a large part of the manager's work per pass).
 */
const RUNNABLE_COLUMNS = [
  'id',
  'requested_slots',
  'cluster_size',
  'architecture',
  'predicates',
  'domain_name',
  'image',
] as const satisfies readonly (keyof RunnableSession)[];
const CANDIDATE_COLUMNS = [
  ...RUNNABLE_COLUMNS.filter((c) => c !== 'predicates').map((c) => `s.${c}`),
  `s.status_data -> 'predicates' AS predicates`,
  // ranked and gated by (arrayGateCtes, the keypair's room)
  's.access_key',
  's.priority',
  's.created_at',
  's.array_index',
  's.array_parent_id',
].join(', ');
