import type { Redis } from 'ioredis';
import { ACTIVE_STATUSES } from '../../domain/status.js';
import type { FleetStore } from '../../persistence/fleet-store.js';
import type { AgentRow, SessionRow } from '../../persistence/rows.js';
import type { SessionStore } from '../../persistence/session-store.js';
import type { CatalogStore } from '../../persistence/catalog-store.js';
import type { AgentQueues } from '../../queue/agent-queues.js';
import { heartbeatKey, supersededKey } from '../../queue/names.js';
import type { Heartbeat } from '../../queue/payloads.js';
import type { Logger } from '../../log/logger.js';
import { nextRetry } from './retry.js';
import { imageForRun, runJobOf } from './run-job.js';
import { QuietGate } from './quiet-gate.js';

export interface ReconcilerDeps {
  fleet: FleetStore;
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

/** How long a session may be out of sight of its agent before the reconciler acts. */
const GRACE_MS = 8_000;
/** status_info of a session whose agent is LOST but still inside its grace window. */
export const AGENT_DISCONNECTED = 'agent-disconnected';
/** How long the agent is told which of its attempts were superseded. */
const SUPERSEDED_TTL_MS = 7 * 24 * 3_600_000;

/** What the last full pass saw when it found nothing to watch (see `tick`). */
interface Quiet {
  agentIds: string[];
  /** The heartbeats as they were, but for their time (`beatsPrint`). */
  beats: string;
}

/**
 * Compares PostgreSQL (the truth) with what agents say in their heartbeats and with the queues
 * (transport), and repairs the difference: lost agents, lost jobs, lost reports, stray
 * containers, sessions stuck in a phase. Runs at manager start and then periodically, under a
 * lease so one manager does it at a time.
 */
export class Reconciler {
  /** Whether the last pass found nothing to watch, and the commits (`wake`) since it began. */
  private readonly quiet = new QuietGate<Quiet>();

  constructor(private readonly deps: ReconcilerDeps) {}

  /** Something was committed (here, or told through Redis by another manager): the next tick passes. */
  wake(): void {
    this.quiet.wake();
  }

  /** This manager does not hold the lease: what it last found may be stale when it holds it again. */
  forget(): void {
    this.quiet.forget();
  }

  /**
   * The periodic step. When the last pass found no live session (PENDING to TERMINATING) and
   * every agent settled (heartbeating with no container, or LOST past its grace window), only
   * a commit or a change in what the heartbeats say can give a pass work: the tick reads the
   * heartbeats (one MGET) and passes only if one changed (freshness included: a silent agent
   * turns stale at its timeout), something was committed since, or QUIET_RECHECK_MS
   * (quiet-gate.ts) went by.
   */
  async tick(): Promise<void> {
    const q = this.quiet.resting()?.payload;
    if (q) {
      const beats = await this.heartbeats(q.agentIds);
      if (this.beatsPrint(q.agentIds, beats, Date.now()) === q.beats) return;
    }
    await this.pass();
  }

  /** One whole pass: every agent against its heartbeat, then the timeouts. */
  async pass(): Promise<void> {
    const { fleet } = this.deps;
    this.quiet.forget();
    const began = this.quiet.begin();
    const agents = await fleet.watchedAgents();
    const ids = agents.map((a) => a.id);
    const beats = await this.heartbeats(ids);
    const now = Date.now();
    let settled = true;
    for (const agent of agents) {
      const hb = beats.get(agent.id);
      const fresh = hb !== undefined && now - hb.at < this.deps.agentTimeoutMs;
      // Its last heartbeat: the key's (PostgreSQL's copy is written by full passes only), or
      // PostgreSQL's once the key is gone (its TTL, a flush).
      const seen = Math.max(agent.last_heartbeat.getTime(), hb?.at ?? 0);
      if (fresh) {
        if (hb.sessions.length > 0) settled = false;
        // Also after an agent restart (its agent-started report made it ALIVE already), its
        // sessions flagged while it was LOST are known again.
        const unflagged = await fleet.markAlive(
          agent.id,
          {
            at: new Date(hb.at),
            // The agent's own drain (SIGUSR2) lasts as long as its heartbeat says so.
            statusInfo: hb.draining ? 'draining' : hb.engineDown ? 'engine-unavailable' : null,
            slots: hb.slots,
            scalingGroup: hb.scalingGroup,
          },
          { info: AGENT_DISCONNECTED, key: 'agentDisconnected' },
        );
        if (unflagged > 0)
          this.deps.log.info('agent reconnected within its grace window', {
            agentId: agent.id,
            sessions: unflagged,
          });
        // The heartbeat says where the agent's queue is: no read of the agent row to send it jobs.
        this.deps.queues.noteGroup(agent.id, hb.scalingGroup);
        if (agent.status === 'LOST') this.deps.onCapacityFreed();
        await this.reconcileAgent(agent.id, hb);
      } else {
        const silentMs = now - seen;
        const over = silentMs >= this.deps.agentTimeoutMs + this.deps.agentGraceMs;
        if (agent.status !== 'LOST' || !over) settled = false;
        if (agent.status === 'ALIVE' && silentMs >= this.deps.agentTimeoutMs)
          await this.agentLost(agent, seen);
        if (over) await this.agentGone(agent);
      }
    }
    const { stuck, pending, live } = await fleet.timedOut(new Date(Date.now() - this.deps.phaseTimeoutMs));
    await this.phaseTimeouts(stuck);
    await this.pendingTimeouts(pending);
    if (settled && !live) this.quiet.rest(began, { agentIds: ids, beats: this.beatsPrint(ids, beats, now) });
  }

  /** The heartbeats of `ids` but for their time, and which are fresh at `now`. */
  private beatsPrint(ids: string[], beats: Map<string, Heartbeat>, now: number): string {
    return JSON.stringify(
      ids.map((id) => {
        const hb = beats.get(id);
        if (!hb) return null;
        return { ...hb, at: now - hb.at < this.deps.agentTimeoutMs };
      }),
    );
  }

  private async heartbeats(ids: string[]): Promise<Map<string, Heartbeat>> {
    const out = new Map<string, Heartbeat>();
    if (ids.length === 0) return out;
    const vals = await this.deps.redis.mget(ids.map((id) => heartbeatKey(this.deps.prefix, id)));
    vals.forEach((v, i) => {
      if (!v) return;
      try {
        out.set(ids[i]!, JSON.parse(v) as Heartbeat);
      } catch (err) {
        // A garbled heartbeat counts as none (the agent is judged by its last good one).
        this.deps.log.error('garbled heartbeat ignored', { agentId: ids[i], err: String(err) });
      }
    });
    return out;
  }

  /**
   * An agent that went silent: LOST, so nothing more is placed on it. Its sessions are not given
   * up yet: they wait as disconnected (status unchanged, status_info `agent-disconnected`, the
   * deadline in status_data) for the agent to come back with their true results.
   */
  private async agentLost(agent: AgentRow, since: number): Promise<void> {
    const { fleet, log } = this.deps;
    // Its last heartbeat is written with it: the grace window is counted from it once the key is gone.
    if (!(await fleet.markLost(agent.id, 'heartbeat-timeout', new Date(since)))) return;
    log.info('agent lost', { agentId: agent.id });
    const flag = {
      agentDisconnected: {
        agentId: agent.id,
        lastHeartbeat: new Date(since).toISOString(),
        lostAfter: new Date(since + this.deps.agentTimeoutMs + this.deps.agentGraceMs).toISOString(),
      },
    };
    await fleet.flagSessionsOf(agent.id, AGENT_DISCONNECTED, flag);
    this.deps.sessions.notifyCommitted();
  }

  /**
   * The grace window of a LOST agent is over: its sessions end `agent-lost`, or run again
   * elsewhere when their retry policy names it. The attempts it held are recorded as superseded
   * (the agent reads them and never starts or reports them) and its queue is replaced by
   * cleanups of those attempts, so an agent that comes back stops them at once.
   */
  private async agentGone(agent: AgentRow): Promise<void> {
    const { fleet, sessions, log, redis, prefix } = this.deps;
    const affected = await fleet.activeOn(agent.id);
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
        await sessions.requeueForRetry(s, {
          reason: 'agent-lost',
          exitCode: null,
          at: retryAt,
          data: { lostAgent: agent.id },
        });
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
    // Redis failing here leaves the old queue: the superseded set above still keeps the agent
    // from starting or reporting those attempts, so it is logged and the pass goes on.
    const logged = (what: string) => (err: unknown) =>
      log.error(`${what} failed for a gone agent`, { agentId: agent.id, err: String(err) });
    await this.deps.queues.obliterate(agent.id).catch(logged('queue obliterate'));
    for (const s of affected) {
      await this.deps.queues
        .cleanup(agent.id, { sessionId: s.id, attempt: s.attempt })
        .catch(logged('cleanup enqueue'));
    }
    this.deps.onCapacityFreed();
  }

  /** Heartbeat against PostgreSQL for one live agent. */
  private async reconcileAgent(agentId: string, hb: Heartbeat): Promise<void> {
    const { fleet, sessions, queues, catalog, log } = this.deps;
    const seen = new Map(hb.sessions.map((s) => [s.sessionId, s]));
    const rows = await fleet.sessionsByIds(hb.sessions.map((s) => s.sessionId));
    const byId = new Map(rows.map((r) => [r.id, r]));
    // Containers the agent holds for sessions that are over, another attempt, or unknown: remove.
    for (const h of hb.sessions) {
      const s = byId.get(h.sessionId);
      const mineNow = s && s.agent_id === agentId && s.attempt === h.attempt;
      if (mineNow && ACTIVE_STATUSES.includes(s.status)) continue;
      // Ended just now, by the report that sent its cleanup (a heartbeat may be seconds old):
      // re-sent only if it still shows GRACE_MS after (the cleanup job was lost).
      if (mineNow && s.terminated_at && s.terminated_at.getTime() > hb.at - GRACE_MS) continue;
      await queues.cleanup(agentId, { sessionId: h.sessionId, attempt: h.attempt });
    }
    // Only sessions that were settled well before the heartbeat was written: a heartbeat may be
    // seconds old, and must not make a session just placed or just started look lost.
    const horizon = Math.min(Date.now(), hb.at) - GRACE_MS;
    const mine = await fleet.activeOn(agentId, new Date(horizon));
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
      const image = await imageForRun(catalog, s, log);
      await queues.run(agentId, runJobOf(s, kernels, image));
      await sessions.touch(s.id, s.status);
    }
  }

  private async phaseTimeouts(stuck: SessionRow[]): Promise<void> {
    const { sessions, queues } = this.deps;
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

  private async pendingTimeouts(pending: string[]): Promise<void> {
    for (const id of pending) {
      await this.deps.sessions.transition(id, 'CANCELLED', {
        from: ['PENDING'],
        info: 'pending-timeout',
        result: 'FAILURE',
        kernels: true,
      });
    }
  }
}
