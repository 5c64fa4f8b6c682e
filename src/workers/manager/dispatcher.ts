import type { Knex } from 'knex';
import { placeSessions, type AgentCapacity, type PlacementCandidate } from '../../domain/placement.js';
import { addSlots, fits, scaleSlots, subtractSlots, type Slots } from '../../domain/resources.js';
import { ACTIVE_STATUSES } from '../../domain/status.js';
import type { Db } from '../../persistence/db.js';
import type { AgentRow, KernelRow, SessionRow } from '../../persistence/rows.js';
import type { SessionStore } from '../../persistence/session-store.js';
import type { CatalogStore, ResolvedImage } from '../../persistence/catalog-store.js';
import type { AgentQueues } from '../../queue/agent-queues.js';
import type { Logger } from '../agent/agent.js';
import { runJobOf } from './run-job.js';

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
}

const MAX_TIMER_MS = 3_600_000;
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
  private running = false;
  private again = false;
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private tick: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly deps: DispatcherDeps) {}

  start(tickMs = 2000): void {
    this.tick = setInterval(() => this.kick(), tickMs);
    this.kick();
  }

  /** Asks for a pass soon; passes never overlap, and kicks during a pass cause one more. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    setImmediate(() => {
      this.deps
        .withLease(() => this.pass())
        .catch((err) => this.deps.log.error('dispatch pass failed', { err: String(err) }))
        .finally(() => {
          this.running = false;
          if (this.again) {
            this.again = false;
            this.kick();
          }
        });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.tick) clearInterval(this.tick);
    while (this.running) await new Promise((r) => setTimeout(r, 10));
  }

  /** One dispatch pass over every scaling group with PENDING sessions. */
  async pass(): Promise<void> {
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
  }

  private armTimer(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    if (!Number.isFinite(at)) return;
    this.timerAt = at;
    // setTimeout fires at once past 2^31 ms; a start months away is looked at again later.
    this.timer = setTimeout(() => this.kick(), Math.min(Math.max(0, at - Date.now()), MAX_TIMER_MS));
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
    if (!this.closed && due < this.timerAt) this.armTimer(due);
  }

  /** Returns the epoch ms at which a waiting session's time predicate will next pass. */
  private async passGroup(group: string): Promise<number> {
    const { db, sessions } = this.deps;
    const now = Date.now();
    const horizon = new Date(now + this.deps.startLeadMs);
    const later = await this.deferLater(group, horizon);
    // Due sessions (an index range on the partial starts_at index), plus later ones that have
    // dependencies to check (rare: found through session_dependencies); a pass never walks
    // the sessions that wait for a later starts_at.
    const byPriority = (a: SessionRow, b: SessionRow) =>
      b.priority - a.priority || a.created_at.getTime() - b.created_at.getTime();
    // MATERIALIZED: filter by starts_at first (the partial index), then order; otherwise the
    // planner walks the priority index through every waiting session to fill the LIMIT.
    const due = (await db
      .withMaterialized('due', (q: Knex.QueryBuilder) =>
        q
          .from('sessions')
          .where({ scaling_group: group, status: 'PENDING' })
          .where((w) => w.whereNull('starts_at').orWhere('starts_at', '<=', horizon)),
      )
      .select('*')
      .from('due')
      .orderBy([{ column: 'priority', order: 'desc' }, 'created_at'])
      .limit(1000)) as SessionRow[];
    const laterWithDeps = (await db('session_dependencies as d')
      .join('sessions as s', 's.id', 'd.session_id')
      .where({ 's.scaling_group': group, 's.status': 'PENDING' })
      .where('s.starts_at', '>', horizon)
      .select('s.*')
      .limit(1000)) as SessionRow[];
    const seen = new Set(due.map((r) => r.id));
    const pending = [...due, ...laterWithDeps.filter((r) => !seen.has(r.id) && seen.add(r.id))]
      .sort(byPriority)
      .slice(0, 1000);
    if (pending.length === 0) return later;

    const deps = await this.dependencyStatuses(pending.map((s) => s.id));
    const active = await this.activeCounts([...new Set(pending.map((s) => s.access_key))]);
    const limits = await this.concurrencyLimits([...new Set(pending.map((s) => s.access_key))]);
    let nextWake = Infinity;
    const candidates: PlacementCandidate[] = [];
    const waiting = new Map<string, Predicate[]>();

    for (const s of pending) {
      const failed: Predicate[] = [];
      if (s.retry_after && s.retry_after.getTime() > now) {
        failed.push({ name: 'retry_backoff', msg: `retrying at ${s.retry_after.toISOString()}` });
        nextWake = Math.min(nextWake, s.retry_after.getTime());
      }
      if (s.starts_at && s.starts_at.getTime() - this.deps.startLeadMs > now) {
        failed.push({ name: 'starts_at', msg: `waits until ${s.starts_at.toISOString()}` });
        nextWake = Math.min(nextWake, s.starts_at.getTime() - this.deps.startLeadMs);
      }
      const mine = deps.get(s.id) ?? [];
      const broken = mine.find(
        (d) =>
          d.status === 'CANCELLED' ||
          d.status === 'ERROR' ||
          (d.status === 'TERMINATED' && d.result !== 'SUCCESS'),
      );
      if (broken) {
        const row = await sessions.transition(s.id, 'CANCELLED', {
          from: ['PENDING'],
          info: 'dependency-failed',
          data: { dependency: { sessionId: broken.id, status: broken.status, result: broken.result } },
          result: 'FAILURE',
          kernels: true,
        });
        if (row) this.kick(); // its own dependents are cancelled in the next pass
        continue;
      }
      const unmet = mine.filter((d) => !(d.status === 'TERMINATED' && d.result === 'SUCCESS'));
      if (unmet.length > 0) {
        failed.push({ name: 'dependencies', msg: `waits for ${unmet.map((d) => d.id).join(', ')}` });
      }
      const limit = limits.get(s.access_key) ?? Infinity;
      if (failed.length === 0 && (active.get(s.access_key) ?? 0) >= limit) {
        failed.push({ name: 'keypair_concurrency', msg: `keypair runs its limit of ${limit} sessions` });
      }
      if (failed.length > 0) {
        waiting.set(s.id, failed);
        continue;
      }
      active.set(s.access_key, (active.get(s.access_key) ?? 0) + 1);
      candidates.push({ sessionId: s.id, need: scaleSlots(s.requested_slots, s.cluster_size) });
    }

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
    return Math.min(nextWake, later);
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
      q
        .where({ scaling_group: group, status: 'PENDING' })
        .where('starts_at', '>', horizon)
        .whereNotExists(db('session_dependencies as sd').whereRaw('sd.session_id = sessions.id'));
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

  private async dependencyStatuses(
    ids: string[],
  ): Promise<Map<string, { id: string; status: string; result: string }[]>> {
    const rows = (await this.deps
      .db('session_dependencies as d')
      .join('sessions as s', 's.id', 'd.depends_on')
      .whereIn('d.session_id', ids)
      .select('d.session_id', 's.id', 's.status', 's.result')) as {
      session_id: string;
      id: string;
      status: string;
      result: string;
    }[];
    const out = new Map<string, { id: string; status: string; result: string }[]>();
    for (const r of rows) out.set(r.session_id, [...(out.get(r.session_id) ?? []), r]);
    return out;
  }

  private async activeCounts(keys: string[]): Promise<Map<string, number>> {
    const rows = (await this.deps
      .db('sessions')
      .whereIn('access_key', keys)
      .whereIn('status', [...ACTIVE_STATUSES])
      .groupBy('access_key')
      .select('access_key')
      .count<{ access_key: string; count: string }[]>('* as count')) as {
      access_key: string;
      count: string;
    }[];
    return new Map(rows.map((r) => [r.access_key, Number(r.count)]));
  }

  private async concurrencyLimits(keys: string[]): Promise<Map<string, number>> {
    const rows = (await this.deps
      .db('keypairs as k')
      .join('keypair_resource_policies as p', 'p.name', 'k.resource_policy')
      .whereIn('k.access_key', keys)
      .select('k.access_key', 'p.max_concurrent_sessions')) as {
      access_key: string;
      max_concurrent_sessions: number;
    }[];
    return new Map(rows.map((r) => [r.access_key, r.max_concurrent_sessions]));
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
