import type { Dependency, Predicate } from '../domain/predicates.js';
import type { Db } from './db.js';
import { preparedRaw } from './prepared.js';
import {
  agentReadingOf,
  commitPlacement,
  type AgentReading,
  type Placed,
  type RunnableSession,
} from './placement-commit.js';
import { GLANCE_SQL, surveySql, type GlanceRow, type SurveyRow } from './scheduler-sql.js';
import type { SessionStore } from './session-store.js';
import { scanRunnable, type HeadSource, type RunnableScan } from './runnable-scan.js';
import { unindexedGuard } from './unindexed-guard.js';

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
  /**
   * Sessions the survey put in the group's queue (dependents found met, sessions come due): a
   * scan begun beside its statement did not see them.
   */
  joined: number;
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
   * When each group's whole queue was last read by this manager (epoch ms), how long it took,
   * and how many predicates it wrote.
   */
  private readonly fullAt = new Map<string, { at: number; ms: number; wrote: number }>();
  /** When a head read of each group (by source) last held less than a page (epoch ms). */
  private readonly shortAt = new Map<string, number>();

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
   * the set-based explanations of the sessions that cannot run now (a later starts_at, a
   * dependency not met; scheduler-sql.ts says why one statement writes what two did in turn),
   * and per group the next instants the wake-up timer needs, the sessions to cancel, and its
   * agents' capacities.
   *
   * First the glance (GLANCE_SQL: no parameters, so one generic plan per connection): when no
   * PENDING session has a starts_at, a backoff not over, a start deadline or a dependency, the
   * survey statement would write nothing and return no instants and no sessions to cancel, so the
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
      joined: r.joined,
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
        joined: 0,
        laterAt: null,
        backoffAt: null,
        nextDeadline: null,
        expired: [],
        broken: [],
        agents: (r.agents ?? []).map(agentReadingOf),
      }));
  }

  /**
   * The sessions of the group that can run now but for capacity, in the queue's order: the
   * first `limit` of them, how many can run among those read, and whether more may follow the
   * page (runnable-scan.ts says what the scan checks and writes).
   *
   * A page is read from the head of the queue (its first 2 × `limit` PENDING sessions, by index)
   * rather than from the whole backlog, whose ranking cost PostgreSQL a read of every PENDING
   * session of the group on every pass (docs/benchmarks.md, round twenty). When the head holds
   * fewer than a page of sessions that can run, the head without the keypairs at their limit is
   * read (a fan-out whose keypair's limit is used up fills the queue's head; round twenty-three),
   * and when that too comes up short (an array at its parallelism fills it; sessions due later
   * and those behind a dependency are not in the queue, migration 20261202180000), the whole
   * queue: the page is always the one a whole read gives. The whole queue is also read once
   * every FULL_SCAN_MS per group, or a hundred times as long as its last read took
   * (fullScanEvery), so that the sessions deeper than the head get their predicates
   * (`capacity`, `keypair_concurrency`) written within that time.
   */
  async runnable(
    group: string,
    horizon: Date,
    now: Date,
    limit: number,
    waiting: readonly Predicate[],
  ): Promise<RunnableScan> {
    const at = { group, horizon, now };
    const head = limit <= MAX_HEAD_PAGE ? 2 * limit : null;
    const recent = (t: number | undefined) => t !== undefined && Date.now() - t < FULL_SCAN_MS;
    const full = this.fullAt.get(group);
    if (head !== null && full && Date.now() - full.at < fullScanEvery(full.ms, full.wrote)) {
      // The queue's head, then the head without the keypairs at their limit (a fan-out whose
      // keypair is at its limit fills the queue's head). One that came up short lately is not
      // tried again meanwhile.
      for (const from of HEAD_SOURCES) {
        const key = `${from}\u0000${group}`;
        if (recent(this.shortAt.get(key))) continue;
        const r = await scanRunnable(this.scanDb, head, at, limit, waiting, from);
        const cut = r.read >= head;
        if (!cut || r.rows.length >= limit)
          return { rows: r.rows, total: r.total, more: cut || r.total > r.rows.length };
        this.shortAt.set(key, Date.now());
      }
    }
    const t0 = performance.now();
    const r = await scanRunnable(this.scanDb, null, at, limit, waiting);
    this.fullAt.set(group, { at: Date.now(), ms: performance.now() - t0, wrote: r.wrote });
    return { rows: r.rows, total: r.total, more: r.total > r.rows.length };
  }

  /**
   * What the PENDING sessions of a group's queue ask for (not those due later or waiting on a
   * dependency, which no placement takes): each distinct request (slots per kernel, the
   * kernels, the architecture), up to `max` of them; null when there are more. One read of the
   * group's queue index and its rows, without the ranking a runnable scan does: a pass asks
   * before it reads the whole queue, which places nothing when none of these fits the room left.
   * The arrays' children, which are not in the queue, ask what their parent asks: the open
   * arrays' parents stand for them.
   */
  async pendingNeeds(group: string, max: number): Promise<PendingNeed[] | null> {
    const { rows } = (await preparedRaw(
      this.scanDb,
      'bai_pending_needs',
      `SELECT DISTINCT n.requested_slots, n.cluster_size, n.architecture FROM (
         SELECT s.requested_slots, s.cluster_size, s.architecture FROM sessions s
          WHERE s.scaling_group = ? AND s.status = 'PENDING' AND s.array_size IS NULL
            AND s.array_parent_id IS NULL AND NOT s.due_later AND (NOT s.has_dependencies OR s.deps_met)
         UNION ALL
         SELECT p.requested_slots, p.cluster_size, p.architecture FROM sessions p
          WHERE p.scaling_group = ? AND p.array_size IS NOT NULL AND p.status IN ('PENDING', 'RUNNING')) n
        LIMIT ?`,
      [group, group, max + 1],
    )) as { rows: PendingNeed[] };
    return rows.length > max ? null : rows;
  }

  /**
   * Writes the predicates of PENDING sessions, in one statement however many (callers skip
   * those whose predicates did not change); one text, so parsed once per connection. Found by
   * their ids as an array (sessions_pkey; the set of records alone was planned as a scan of
   * every session), the status a guard no index matches (unindexedGuard).
   */
  async writePredicates(list: { id: string; predicates: Predicate[] }[]): Promise<void> {
    if (list.length === 0) return;
    await preparedRaw(
      this.db,
      'bai_write_predicates',
      `UPDATE sessions s SET status_data = s.status_data || jsonb_build_object('predicates', v.predicates)
         FROM jsonb_to_recordset(?::jsonb) AS v(id uuid, predicates jsonb)
        WHERE s.id = v.id AND s.id = ANY (?::uuid[]) AND ${unindexedGuard(`s.status = 'PENDING'`)}`,
      [JSON.stringify(list), list.map((p) => p.id)],
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

/** A distinct request among a group's PENDING sessions (pendingNeeds). */
export type PendingNeed = Pick<RunnableSession, 'requested_slots' | 'cluster_size' | 'architecture'>;

/** Pages up to this size are read from the head of the queue; larger reads read it whole. */
const MAX_HEAD_PAGE = 256;
/** How often a group's whole queue is read at least (its deeper sessions' predicates). */
const FULL_SCAN_MS = 5_000;
/** The heads a page is read from, in turn (runnable-scan.ts, HeadSource). */
const HEAD_SOURCES = ['queue', 'open'] as const satisfies readonly HeadSource[];
/**
 * How long a group's pages may come from heads after a whole read that took `ms` and wrote
 * `wrote` predicates: FULL_SCAN_MS, or a hundred times the read, so that these reads of a large
 * backlog take at most a hundredth of the time (5,000 sessions waiting took 120-180 ms a read on
 * a slow machine; docs/benchmarks.md, round twenty-three); five hundred times when it changed
 * no predicate (nothing had changed for the sessions deeper than the head).
 */
export function fullScanEvery(ms: number, wrote: number): number {
  return Math.max(FULL_SCAN_MS, (wrote > 0 ? 100 : 500) * ms);
}
