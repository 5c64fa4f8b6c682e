import type { Knex } from 'knex';
import { placeSessions, type AgentCapacity, type PlacementCandidate } from '../../domain/placement.js';
import { addSlots, fits, scaleSlots, subtractSlots, type Slots } from '../../domain/resources.js';
import { ACTIVE_STATUSES } from '../../domain/status.js';
import type { Db } from '../../persistence/db.js';
import type { AgentRow, KernelRow, SessionRow } from '../../persistence/rows.js';
import type { SessionStore } from '../../persistence/session-store.js';
import type { CatalogStore, ResolvedImage } from '../../persistence/catalog-store.js';
import type { AgentQueues } from '../../queue/agent-queues.js';
import type { Logger } from '../../log/logger.js';
import { runJobOf } from './run-job.js';
import { realTimers, setLongTimeoutAt, type LongTimeout, type TimerApi } from '../long-timer.js';

export interface DispatcherDeps {
  db: Db;
  sessions: SessionStore;
  catalog: CatalogStore;
  queues: AgentQueues;
  log: Logger;
  /** Sessions whose starts_at is this close are placed so the agent can prepare ahead. */
  startLeadMs: number;
  /** Runs `fn` only while this manager holds the dispatch lease. */
  withLease: (fn: () => Promise<void>) => Promise<void>;
  /** The wake-up timer's clock (tests inject their own). */
  timers?: TimerApi;
}

/** The most PENDING sessions one pass considers per group, among those that can run now. */
const PASS_LIMIT = 1000;
/** An unbroken dependency, from `sessions s`: a session that did not end TERMINATED/SUCCESS. */
const UNMET_DEPENDENCY = `SELECT 1 FROM session_dependencies d JOIN sessions p ON p.id = d.depends_on
   WHERE d.session_id = s.id AND NOT (p.status = 'TERMINATED' AND p.result = 'SUCCESS')`;
/** How a timestamp column reads in a predicate's message (as Date.toISOString writes it). */
const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
const onePredicate = (name: string, msgSql: string) =>
  `jsonb_build_array(jsonb_build_object('name', '${name}', 'msg', ${msgSql}))`;
/** Sessions committed per transaction on one agent: big enough to amortise, small enough to start early. */
const COMMIT_CHUNK = 32;

interface Predicate {
  name: string;
  msg: string;
}

/**
 * Moves PENDING sessions to agents when their predicates pass. A pass is triggered at once by a
 * submit or a finished session (kick), by a timer at the next starts_at, and by a slow tick as a
 * safety net. Placement is committed in PostgreSQL (agent rows locked) before the job is
 * enqueued; a crash in between is repaired by the reconciler, which re-enqueues SCHEDULED
 * sessions that no agent has acknowledged.
 */
export class Dispatcher {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: LongTimeout | null = null;
  private tick: NodeJS.Timeout | null = null;
  private closed = false;
  private started = 0;
  private readonly passListeners = new Set<(n: number) => void | Promise<void>>();
  private readonly timers: TimerApi;

  constructor(private readonly deps: DispatcherDeps) {
    this.timers = deps.timers ?? realTimers;
  }

  start(tickMs = 2000): void {
    if (this.closed) return;
    this.tick = setInterval(() => this.kick(), tickMs);
    this.kick();
  }

  /** How many passes have begun (a pass that begins after a commit sees that commit). */
  get passesStarted(): number {
    return this.started;
  }

  /**
   * Calls `fn(n)` when pass n has ended (awaited before the next pass begins); for tests and
   * metrics. Returns the unsubscribe function.
   */
  onPass(fn: (n: number) => void | Promise<void>): () => void {
    this.passListeners.add(fn);
    return () => this.passListeners.delete(fn);
  }

  /** Asks for a pass soon; passes never overlap, and kicks during a pass cause one more. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => (this.closed ? undefined : this.deps.withLease(() => this.pass())))
      .catch((err) => this.deps.log.error('dispatch pass failed', { err: String(err) }))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Stops: no pass begins after this, and the one under way ends without arming a timer. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.tick) clearInterval(this.tick);
    this.tick = null;
    this.armTimer(Infinity);
    while (this.running) await this.running;
    this.armTimer(Infinity);
  }

  /** One dispatch pass over every scaling group with PENDING sessions. */
  async pass(): Promise<void> {
    const n = ++this.started;
    const { db } = this.deps;
    // One index probe per scaling group, not a scan of every PENDING session.
    const groups = (await db('scaling_groups as g')
      .select('g.name as scaling_group')
      .whereExists(
        db('sessions as s').whereRaw('s.scaling_group = g.name').where('s.status', 'PENDING'),
      )) as {
      scaling_group: string;
    }[];
    let nextWake = Infinity;
    for (const { scaling_group } of groups) {
      nextWake = Math.min(nextWake, await this.passGroup(scaling_group));
    }
    this.armTimer(nextWake);
    for (const fn of this.passListeners) await fn(n);
  }

  /** Arms the wake-up for `at` (epoch ms; Infinity: none). Never once closed. */
  private armTimer(at: number): void {
    this.timer?.clear();
    this.timer = null;
    if (this.closed || !Number.isFinite(at)) return;
    // A long timer: a start months away neither fires at once (setTimeout's 2^31 ms overflow)
    // nor needs polling; the safety tick covers anything it would miss.
    this.timer = setLongTimeoutAt(() => this.kick(), at, this.timers);
  }

  /**
   * A new session asks for a pass. One whose starts_at is beyond the lead window cannot be
   * placed now, so it only moves the wake-up timer earlier if it is the first due; the safety
   * tick's next pass writes its `starts_at` predicate. Under a stream of such submits this
   * saves a pass (five statements) per request.
   */
  wake(startsAt: Date | null | undefined): void {
    const due = startsAt ? startsAt.getTime() - this.deps.startLeadMs : -Infinity;
    if (due <= Date.now()) return this.kick();
    if (!this.closed && due < (this.timer?.active ? this.timer.at : Infinity)) this.armTimer(due);
  }

  /**
   * Returns the epoch ms at which a waiting session's time predicate will next pass.
   *
   * Sessions that cannot run now — a later starts_at, a retry backoff, a dependency not yet
   * ended, a keypair at its concurrency limit — are explained by set-based UPDATEs and left out
   * of the scan, so however many of them wait they never fill its LIMIT and hide a session
   * that can run (one keypair cannot starve the group). The scan reads only sessions whose
   * sole open question is capacity, in priority then FIFO order, for placement.
   */
  protected async passGroup(group: string): Promise<number> {
    const now = Date.now();
    const horizon = new Date(now + this.deps.startLeadMs);
    const later = await this.deferLater(group, horizon);
    await this.cancelBrokenDependents(group);
    const backoff = await this.deferBackoff(group, new Date(now));
    await this.explainDependencies(group, horizon, new Date(now));
    const pending = await this.runnable(group, horizon, new Date(now));
    if (pending.length === 0) return Math.min(later, backoff);

    const candidates: PlacementCandidate[] = pending.map((s) => ({
      sessionId: s.id,
      need: scaleSlots(s.requested_slots, s.cluster_size),
    }));
    const waiting = new Map<string, Predicate[]>();

    const agents = await this.capacities(group);
    const decisions = placeSessions(candidates, agents);
    const placed = new Set(decisions.map((d) => d.sessionId));
    for (const c of candidates) {
      if (!placed.has(c.sessionId)) {
        waiting.set(c.sessionId, [
          {
            name: 'capacity',
            msg: agents.length === 0 ? 'no agent in the scaling group' : 'waits for free resources',
          },
        ]);
      }
    }
    const byId = new Map(pending.map((s) => [s.id, s]));
    await this.commitPlacements(decisions, byId);
    await this.recordPredicates(byId, waiting);
    return Math.min(later, backoff);
  }

  /**
   * Cancels `dependency-failed` the PENDING sessions of the group one of whose dependencies
   * ended other than TERMINATED/SUCCESS (their own dependents follow in the next pass).
   */
  private async cancelBrokenDependents(group: string): Promise<void> {
    const { rows } = (await this.deps.db.raw(
      `SELECT DISTINCT ON (s.id) s.id, p.id AS dep_id, p.status AS dep_status, p.result AS dep_result
         FROM sessions s
         JOIN session_dependencies d ON d.session_id = s.id
         JOIN sessions p ON p.id = d.depends_on
        WHERE s.scaling_group = ? AND s.status = 'PENDING'
          AND (p.status IN ('CANCELLED', 'ERROR') OR (p.status = 'TERMINATED' AND p.result <> 'SUCCESS'))
        ORDER BY s.id
        LIMIT ?`,
      [group, PASS_LIMIT],
    )) as { rows: { id: string; dep_id: string; dep_status: string; dep_result: string }[] };
    let cancelled = false;
    for (const r of rows) {
      const row = await this.deps.sessions.transition(r.id, 'CANCELLED', {
        from: ['PENDING'],
        info: 'dependency-failed',
        data: { dependency: { sessionId: r.dep_id, status: r.dep_status, result: r.dep_result } },
        result: 'FAILURE',
        kernels: true,
      });
      cancelled ||= row !== null;
    }
    if (cancelled || rows.length === PASS_LIMIT) this.kick();
  }

  /** Writes `retry_backoff` on sessions waiting out a retry delay; returns when the first is due. */
  private async deferBackoff(group: string, now: Date): Promise<number> {
    const { db } = this.deps;
    const preds = onePredicate('retry_backoff', `'retrying at ' || ${iso('retry_after')}`);
    await db.raw(
      `UPDATE sessions SET status_data = status_data || jsonb_build_object('predicates', ${preds})
        WHERE scaling_group = ? AND status = 'PENDING' AND retry_after > ?
          AND (status_data -> 'predicates') IS DISTINCT FROM ${preds}`,
      [group, now],
    );
    const row = (await db('sessions')
      .where({ scaling_group: group, status: 'PENDING' })
      .where('retry_after', '>', now)
      .min('retry_after as at')
      .first()) as { at: Date | null } | undefined;
    return row?.at ? row.at.getTime() : Infinity;
  }

  /** Writes `dependencies` on due sessions that wait for a dependency to end. */
  private async explainDependencies(group: string, horizon: Date, now: Date): Promise<void> {
    await this.deps.db.raw(
      `UPDATE sessions s SET status_data = s.status_data || jsonb_build_object('predicates', w.preds)
         FROM (SELECT d.session_id,
                      jsonb_build_array(jsonb_build_object('name', 'dependencies', 'msg',
                        'waits for ' || string_agg(p.id::text, ', ' ORDER BY p.id::text))) AS preds
                 FROM session_dependencies d
                 JOIN sessions x ON x.id = d.session_id
                 JOIN sessions p ON p.id = d.depends_on
                WHERE x.scaling_group = ? AND x.status = 'PENDING'
                  AND (x.starts_at IS NULL OR x.starts_at <= ?)
                  AND (x.retry_after IS NULL OR x.retry_after <= ?)
                  AND NOT (p.status = 'TERMINATED' AND p.result = 'SUCCESS')
                GROUP BY d.session_id) w
        WHERE s.id = w.session_id AND s.status = 'PENDING'
          AND (s.status_data -> 'predicates') IS DISTINCT FROM w.preds`,
      [group, horizon, now],
    );
  }

  /**
   * The sessions of the group that can run now but for capacity, in priority then FIFO order:
   * due, past any backoff, every dependency ended TERMINATED/SUCCESS, and within their
   * keypair's room under `max_concurrent_sessions` (ranked per keypair in the same order).
   * Those beyond their keypair's room get `keypair_concurrency` written, in the same statement.
   */
  private async runnable(group: string, horizon: Date, now: Date): Promise<SessionRow[]> {
    const active = ACTIVE_STATUSES.map((st) => `'${st}'`).join(', ');
    const limitPreds = onePredicate(
      'keypair_concurrency',
      `'keypair runs its limit of ' || r.kp_limit || ' sessions'`,
    );
    const { rows } = (await this.deps.db.raw(
      `WITH cand AS MATERIALIZED (
         SELECT s.* FROM sessions s
          WHERE s.scaling_group = ? AND s.status = 'PENDING'
            AND (s.starts_at IS NULL OR s.starts_at <= ?)
            AND (s.retry_after IS NULL OR s.retry_after <= ?)
            AND NOT EXISTS (${UNMET_DEPENDENCY})
       ), room AS (
         SELECT k.access_key, p.max_concurrent_sessions AS kp_limit,
                p.max_concurrent_sessions
                  - (SELECT count(*) FROM sessions a WHERE a.access_key = k.access_key AND a.status IN (${active})) AS kp_room
           FROM keypairs k JOIN keypair_resource_policies p ON p.name = k.resource_policy
          WHERE k.access_key IN (SELECT DISTINCT access_key FROM cand)
       ), ranked AS (
         SELECT c.*, r.kp_limit,
                row_number() OVER (PARTITION BY c.access_key ORDER BY c.priority DESC, c.created_at) AS kp_rank,
                coalesce(r.kp_room, 2147483647) AS kp_room
           FROM cand c LEFT JOIN room r ON r.access_key = c.access_key
       ), over_limit AS (
         UPDATE sessions s SET status_data = s.status_data || jsonb_build_object('predicates', ${limitPreds})
           FROM ranked r
          WHERE s.id = r.id AND r.kp_rank > r.kp_room AND s.status = 'PENDING'
            AND (s.status_data -> 'predicates') IS DISTINCT FROM ${limitPreds}
         RETURNING s.id
       )
       SELECT * FROM ranked WHERE kp_rank <= kp_room
        ORDER BY priority DESC, created_at
        LIMIT ?`,
      [group, horizon, now, PASS_LIMIT],
    )) as { rows: (SessionRow & { kp_rank?: unknown; kp_room?: unknown; kp_limit?: unknown })[] };
    return rows.map(({ kp_rank: _r, kp_room: _m, kp_limit: _l, ...row }) => row as SessionRow);
  }

  /**
   * Sessions whose starts_at is beyond the lead window (and that have no dependencies to
   * check) cannot be placed in this pass: they are left out of the scan above, so a pass costs
   * the same whether a thousand sessions wait for tomorrow or none do, and they cannot crowd
   * runnable sessions out of its LIMIT. Their one predicate is written once, by one set-based
   * UPDATE, in the form recordPredicates writes it. Returns when the first of them comes due.
   */
  private async deferLater(group: string, horizon: Date): Promise<number> {
    const { db } = this.deps;
    const farOnly = (q: Knex.QueryBuilder) =>
      q.where({ scaling_group: group, status: 'PENDING' }).where('starts_at', '>', horizon);
    await farOnly(db('sessions'))
      .whereRaw(`status_data -> 'predicates' IS NULL`)
      .update({
        status_data: db.raw(
          `status_data || jsonb_build_object('predicates', jsonb_build_array(jsonb_build_object('name', 'starts_at', 'msg', ` +
            `'waits until ' || to_char(starts_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))))`,
        ),
      });
    const row = (await farOnly(db('sessions')).min('starts_at as at').first()) as
      { at: Date | null } | undefined;
    return row?.at ? row.at.getTime() - this.deps.startLeadMs : Infinity;
  }

  /**
   * Commits the pass's decisions: per agent, in transactions of up to COMMIT_CHUNK sessions that
   * lock the agent row (so two managers never over-commit it) and recount what it holds; agents
   * in parallel. One transaction per session was the bottleneck of a burst on a busy machine.
   */
  private async commitPlacements(
    decisions: { sessionId: string; agentId: string }[],
    byId: Map<string, SessionRow>,
  ): Promise<void> {
    const byAgent = new Map<string, SessionRow[]>();
    for (const d of decisions) {
      const s = byId.get(d.sessionId);
      if (s) byAgent.set(d.agentId, [...(byAgent.get(d.agentId) ?? []), s]);
    }
    const images = new Map<string, Promise<ResolvedImage | null>>();
    const imageOf = (row: SessionRow) => {
      const key = `${row.domain_name}\u0000${row.image}`;
      let p = images.get(key);
      if (!p) {
        p = this.deps.catalog.resolveImage(row.image, row.domain_name).catch(() => null);
        images.set(key, p);
      }
      return p;
    };
    await Promise.all(
      [...byAgent].map(async ([agentId, list]) => {
        for (let i = 0; i < list.length; i += COMMIT_CHUNK) {
          const placed = await this.commitOnAgent(agentId, list.slice(i, i + COMMIT_CHUNK));
          if (placed.length === 0) return; // the agent is gone or full: the next pass decides again
          this.deps.sessions.notifyCommitted();
          await Promise.all(placed.map(async (row) => this.enqueue(agentId, row, await imageOf(row))));
        }
      }),
    );
  }

  private async commitOnAgent(agentId: string, list: SessionRow[]): Promise<SessionRow[]> {
    const { db, sessions } = this.deps;
    return db.transaction(async (trx) => {
      const agent = (await trx('agents').where({ id: agentId, status: 'ALIVE' }).forUpdate().first()) as
        AgentRow | undefined;
      if (!agent) return [];
      let free = subtractSlots(agent.available_slots, await occupiedOn(trx, agentId));
      const placed: SessionRow[] = [];
      for (const s of list) {
        const need = scaleSlots(s.requested_slots, s.cluster_size);
        if (!fits(need, free)) continue;
        const moved = await sessions.transitionIn(trx, s.id, 'SCHEDULED', {
          from: ['PENDING'],
          info: null,
          data: { predicates: [] },
          set: { agent_id: agentId },
        });
        if (!moved) continue; // cancelled meanwhile, or placed by another manager
        await trx('kernels')
          .where({ session_id: s.id })
          .update({
            agent_id: agentId,
            occupied_slots: JSON.stringify(s.requested_slots),
            status: 'SCHEDULED',
          });
        free = subtractSlots(free, need);
        placed.push(moved);
      }
      return placed;
    });
  }

  private async enqueue(agentId: string, row: SessionRow, image: ResolvedImage | null): Promise<void> {
    try {
      const kernels = await this.deps.sessions.kernels(row.id);
      await this.deps.queues.run(agentId, runJobOf(row, kernels, image));
    } catch (err) {
      // Committed but not sent (Redis away): the reconciler re-enqueues it; place the others.
      this.deps.log.error('enqueue failed; the reconciler will repair it', {
        sessionId: row.id,
        err: String(err),
      });
    }
  }

  private async recordPredicates(
    byId: Map<string, SessionRow>,
    waiting: Map<string, Predicate[]>,
  ): Promise<void> {
    for (const [id, preds] of waiting) {
      const s = byId.get(id);
      const before = JSON.stringify((s?.status_data as { predicates?: unknown })?.predicates ?? null);
      if (before === JSON.stringify(preds)) continue;
      await this.deps
        .db('sessions')
        .where({ id, status: 'PENDING' })
        .update({
          status_data: this.deps.db.raw(`status_data || ?::jsonb`, [JSON.stringify({ predicates: preds })]),
        });
    }
  }

  private async capacities(group: string): Promise<AgentCapacity[]> {
    const agents = (await this.deps
      .db('agents')
      .where({ scaling_group: group, status: 'ALIVE', schedulable: true })
      .whereRaw(`coalesce(status_info, '') NOT IN ('draining', 'engine-unavailable')`)) as AgentRow[];
    const out: AgentCapacity[] = [];
    for (const a of agents)
      out.push({ id: a.id, total: a.available_slots, occupied: await occupiedOn(this.deps.db, a.id) });
    return out;
  }
}

/** Slots held on an agent by kernels of sessions that are not over. */
export async function occupiedOn(db: Knex | Knex.Transaction, agentId: string): Promise<Slots> {
  const rows = (await db('kernels')
    .where({ agent_id: agentId })
    .whereIn('status', [...ACTIVE_STATUSES])
    .select('occupied_slots')) as Pick<KernelRow, 'occupied_slots'>[];
  return rows.reduce<Slots>((acc, r) => addSlots(acc, r.occupied_slots), {});
}
