import type { Redis } from 'ioredis';
import { ACTIVE_STATUSES, type SessionStatus } from '../../domain/status.js';
import type { Db } from '../../persistence/db.js';
import type { AgentRow, SessionRow } from '../../persistence/rows.js';
import type { SessionStore } from '../../persistence/session-store.js';
import type { CatalogStore } from '../../persistence/catalog-store.js';
import type { AgentQueues } from '../../queue/agent-queues.js';
import { heartbeatKey, supersededKey } from '../../queue/names.js';
import type { Heartbeat } from '../../queue/payloads.js';
import type { Logger } from '../../log/logger.js';
import { nextRetry } from './retry.js';
import { retrySet } from './report-handler.js';
import { runJobOf } from './run-job.js';

export interface ReconcilerDeps {
  db: Db;
  redis: Redis;
  prefix: string;
  sessions: SessionStore;
  catalog: CatalogStore;
  queues: AgentQueues;
  log: Logger;
  agentTimeoutMs: number;
  /** How long a LOST agent's sessions wait as `agent-disconnected` before they are given up. */
  agentGraceMs: number;
  phaseTimeoutMs: number;
  onCapacityFreed: () => void;
}

const PREPARE_PHASES: SessionStatus[] = ['SCHEDULED', 'PREPARING', 'PULLING', 'PREPARED', 'CREATING'];
/** How long a session may be out of sight of its agent before the reconciler acts. */
const GRACE_MS = 8_000;
/** status_info of a session whose agent is LOST but still inside its grace window. */
export const AGENT_DISCONNECTED = 'agent-disconnected';
/** How long the agent is told which of its attempts were superseded. */
const SUPERSEDED_TTL_MS = 7 * 24 * 3_600_000;

/**
 * Compares PostgreSQL (the truth) with what agents say in their heartbeats and with the queues
 * (transport), and repairs the difference: lost agents, lost jobs, lost reports, stray
 * containers, sessions stuck in a phase. Runs at manager start and then periodically, under a
 * lease so one manager does it at a time.
 */
export class Reconciler {
  constructor(private readonly deps: ReconcilerDeps) {}

  async pass(): Promise<void> {
    const agents = (await this.deps.db('agents').whereIn('status', ['ALIVE', 'LOST'])) as AgentRow[];
    const beats = await this.heartbeats(agents.map((a) => a.id));
    const now = Date.now();
    for (const agent of agents) {
      const hb = beats.get(agent.id);
      const fresh = hb !== undefined && now - hb.at < this.deps.agentTimeoutMs;
      if (fresh) {
        await this.deps
          .db('agents')
          .where({ id: agent.id })
          .update({
            status: 'ALIVE',
            // The agent's own drain (SIGUSR2) lasts as long as its heartbeat says so; the
            // admin's `schedulable` flag is the operator's and is never touched here.
            status_info: hb.draining ? 'draining' : hb.engineDown ? 'engine-unavailable' : null,
            last_heartbeat: new Date(hb.at),
            available_slots: JSON.stringify(hb.slots),
            scaling_group: hb.scalingGroup,
          });
        // Also after an agent restart (its agent-started report made it ALIVE already).
        await this.agentReconnected(agent);
        if (agent.status === 'LOST') this.deps.onCapacityFreed();
        await this.reconcileAgent(agent.id, hb);
      } else {
        const silentMs = now - agent.last_heartbeat.getTime();
        if (agent.status === 'ALIVE' && silentMs >= this.deps.agentTimeoutMs) await this.agentLost(agent);
        if (silentMs >= this.deps.agentTimeoutMs + this.deps.agentGraceMs) await this.agentGone(agent);
      }
    }
    await this.phaseTimeouts();
    await this.pendingTimeouts();
  }

  private async heartbeats(ids: string[]): Promise<Map<string, Heartbeat>> {
    const out = new Map<string, Heartbeat>();
    if (ids.length === 0) return out;
    const vals = await this.deps.redis.mget(ids.map((id) => heartbeatKey(this.deps.prefix, id)));
    vals.forEach((v, i) => {
      if (!v) return;
      try {
        out.set(ids[i]!, JSON.parse(v) as Heartbeat);
      } catch {
        /* a garbled heartbeat counts as none */
      }
    });
    return out;
  }

  /**
   * An agent that went silent: LOST, so nothing more is placed on it. Its sessions are not given
   * up yet: they wait as disconnected (status unchanged, status_info `agent-disconnected`, the
   * deadline in status_data) for the agent to come back with their true results.
   */
  private async agentLost(agent: AgentRow): Promise<void> {
    const { db, log } = this.deps;
    const n = await db('agents')
      .where({ id: agent.id, status: 'ALIVE' })
      .update({ status: 'LOST', status_info: 'heartbeat-timeout' });
    if (n === 0) return;
    log.info('agent lost', { agentId: agent.id });
    const since = agent.last_heartbeat.getTime();
    const flag = {
      agentDisconnected: {
        agentId: agent.id,
        lastHeartbeat: new Date(since).toISOString(),
        lostAfter: new Date(since + this.deps.agentTimeoutMs + this.deps.agentGraceMs).toISOString(),
      },
    };
    await db('sessions')
      .where({ agent_id: agent.id })
      .whereIn('status', [...ACTIVE_STATUSES])
      .update({
        status_info: db.raw(`coalesce(status_info, ?)`, [AGENT_DISCONNECTED]),
        status_data: db.raw(`status_data || ?::jsonb`, [JSON.stringify(flag)]),
      });
    this.deps.sessions.notifyCommitted();
  }

  /** A LOST agent heartbeats again within the grace window: its sessions are no longer unknown. */
  private async agentReconnected(agent: AgentRow): Promise<void> {
    const { db, log } = this.deps;
    const n = await db('sessions')
      .where({ agent_id: agent.id })
      .whereIn('status', [...ACTIVE_STATUSES])
      .whereRaw(`status_data -> 'agentDisconnected' IS NOT NULL`)
      .update({
        status_info: db.raw(`CASE WHEN status_info = ? THEN NULL ELSE status_info END`, [AGENT_DISCONNECTED]),
        status_data: db.raw(`status_data - 'agentDisconnected'`),
      });
    if (n > 0) log.info('agent reconnected within its grace window', { agentId: agent.id, sessions: n });
  }

  /**
   * The grace window of a LOST agent is over: its sessions end `agent-lost`, or run again
   * elsewhere when their retry policy names it. The attempts it held are recorded as superseded
   * (the agent reads them and never starts or reports them) and its queue is replaced by
   * cleanups of those attempts, so an agent that comes back stops them at once.
   */
  private async agentGone(agent: AgentRow): Promise<void> {
    const { db, sessions, log, redis, prefix } = this.deps;
    const affected = (await db('sessions')
      .where({ agent_id: agent.id })
      .whereIn('status', [...ACTIVE_STATUSES])) as SessionRow[];
    if (affected.length === 0) return;
    log.info('agent grace window over', { agentId: agent.id, sessions: affected.length });
    const key = supersededKey(prefix, agent.id);
    await redis
      .multi()
      .sadd(key, ...affected.map((s) => `${s.id}:${s.attempt}`))
      .pexpire(key, SUPERSEDED_TTL_MS)
      .exec();
    for (const s of affected) {
      const retryAt = nextRetry(s.retry_policy, s.attempt, 'agent-lost');
      if (retryAt) {
        const row = await sessions.transition(s.id, 'PENDING', {
          info: 'retrying',
          data: { lostAgent: agent.id },
          set: retrySet(s, 'agent-lost', null, retryAt),
        });
        if (row) {
          await db('kernels')
            .where({ session_id: s.id })
            .update({ status: 'PENDING', agent_id: null, container_id: null, occupied_slots: '{}' });
        }
      } else if (s.status === 'RUNNING' || s.status === 'TERMINATING') {
        await sessions.transition(s.id, 'TERMINATED', {
          info: 'agent-lost',
          data: { error: `Agent ${agent.id} stopped answering.` },
          result: 'FAILURE',
          kernels: true,
        });
      } else {
        await sessions.transition(s.id, 'CANCELLED', {
          info: 'agent-lost',
          data: { error: `Agent ${agent.id} stopped answering.` },
          result: 'FAILURE',
          kernels: true,
        });
      }
    }
    await this.deps.queues.obliterate(agent.id).catch(() => {});
    for (const s of affected) {
      await this.deps.queues.cleanup(agent.id, { sessionId: s.id, attempt: s.attempt }).catch(() => {});
    }
    this.deps.onCapacityFreed();
  }

  /** Heartbeat against PostgreSQL for one live agent. */
  private async reconcileAgent(agentId: string, hb: Heartbeat): Promise<void> {
    const { db, sessions, queues, catalog } = this.deps;
    const seen = new Map(hb.sessions.map((s) => [s.sessionId, s]));
    const ids = hb.sessions.map((s) => s.sessionId);
    const rows = ids.length > 0 ? ((await db('sessions').whereIn('id', ids)) as SessionRow[]) : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    // Containers the agent holds for sessions that are over, another attempt, or unknown: remove.
    for (const h of hb.sessions) {
      const s = byId.get(h.sessionId);
      const live =
        s && s.agent_id === agentId && s.attempt === h.attempt && ACTIVE_STATUSES.includes(s.status);
      if (!live) await queues.cleanup(agentId, { sessionId: h.sessionId, attempt: h.attempt });
    }
    // Only sessions that were settled well before the heartbeat was written: a heartbeat may be
    // seconds old, and must not make a session just placed or just started look lost.
    const horizon = Math.min(Date.now(), hb.at) - GRACE_MS;
    const mine = (await db('sessions')
      .where({ agent_id: agentId })
      .whereIn('status', [...ACTIVE_STATUSES])
      .where('updated_at', '<', new Date(horizon))) as SessionRow[];
    for (const s of mine) {
      const h = seen.get(s.id);
      if (h && h.state !== 'exited' && h.attempt === s.attempt) continue;
      if (!h && (s.status === 'RUNNING' || s.status === 'TERMINATING')) {
        // Its container is gone and nobody reported an exit: it cannot be told how it ended.
        await sessions.transition(s.id, 'TERMINATED', {
          info: s.status === 'TERMINATING' ? 'force-terminated' : 'container-lost',
          data: { error: 'The agent no longer has the container of this session.' },
          result: 'FAILURE',
          kernels: true,
        });
        this.deps.onCapacityFreed();
        continue;
      }
      if (await queues.hasPendingRun(agentId, s.id, s.attempt)) continue;
      // The job or its reports were lost (Redis flushed or restarted): the agent recognises its
      // own containers, so a new run job only makes it say again where the session stands.
      const kernels = await sessions.kernels(s.id);
      const image = await catalog.resolveImage(s.image, s.domain_name).catch(() => null);
      await queues.run(agentId, runJobOf(s, kernels, image));
      await db('sessions').where({ id: s.id, status: s.status }).update({ updated_at: db.fn.now() });
    }
  }

  private async phaseTimeouts(): Promise<void> {
    const { db, sessions, queues } = this.deps;
    const stuck = (await db('sessions')
      .whereIn('status', PREPARE_PHASES)
      .where('updated_at', '<', new Date(Date.now() - this.deps.phaseTimeoutMs))) as SessionRow[];
    for (const s of stuck) {
      if (s.starts_at && s.starts_at.getTime() > Date.now()) continue; // waiting for its start time
      const row = await sessions.transition(s.id, 'CANCELLED', {
        info: 'phase-timeout',
        data: {
          error: `Stuck in ${s.status} for more than ${Math.round(this.deps.phaseTimeoutMs / 1000)} s.`,
        },
        result: 'FAILURE',
        kernels: true,
      });
      if (row && s.agent_id)
        await queues.destroy(s.agent_id, { sessionId: s.id, reason: 'phase-timeout', forced: true });
    }
  }

  private async pendingTimeouts(): Promise<void> {
    const rows = (await this.deps
      .db('sessions as s')
      .join('scaling_groups as g', 'g.name', 's.scaling_group')
      .where('s.status', 'PENDING')
      .where('g.pending_timeout_sec', '>', 0)
      .whereRaw(`s.created_at < now() - make_interval(secs => g.pending_timeout_sec)`)
      .select('s.id')) as { id: string }[];
    for (const r of rows) {
      await this.deps.sessions.transition(r.id, 'CANCELLED', {
        from: ['PENDING'],
        info: 'pending-timeout',
        result: 'FAILURE',
        kernels: true,
      });
    }
  }
}
