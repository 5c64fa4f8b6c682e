import { supersededKey } from '../../queue/names.js';
import { clearLongTimeout } from '../long-timer.js';
import type { AgentContext } from './agent-context.js';
import type { Tracked } from './tracked.js';

/**
 * Letting go of a session: removing its containers, forgetting it, abandoning a start, and
 * the attempts the manager gave up on while this agent was out of reach (superseded).
 */
export class Teardown {
  constructor(private readonly ctx: AgentContext) {}

  async removeContainers(tracked: Tracked): Promise<void> {
    for (const c of tracked.containers) await this.ctx.docker.remove(c.containerId);
    if (tracked.network) await this.ctx.docker.removeNetwork(tracked.network);
  }

  /** Drops a session whose containers are gone: no timers, no slots, not in the heartbeat. */
  forget(t: Tracked): void {
    clearLongTimeout(t.startTimer);
    clearLongTimeout(t.timeoutTimer);
    t.waitAbort?.abort();
    t.stopLogs?.();
    t.state = 'exited';
    this.ctx.allocator.release(t.sessionId);
    this.ctx.sessions.delete(t.sessionId);
  }

  /** Stopped before its command started: removed, and reported CANCELLED. */
  async abandon(tracked: Tracked, reason: string): Promise<void> {
    await this.removeContainers(tracked);
    this.ctx.allocator.release(tracked.sessionId);
    this.ctx.sessions.delete(tracked.sessionId);
    this.ctx.sessions.markFinished(tracked.sessionId, tracked.attempt);
    await this.ctx.reports.abandoned(tracked, reason);
  }

  async isSuperseded(sessionId: string, attempt: number): Promise<boolean> {
    const key = supersededKey(this.ctx.config.queuePrefix, this.ctx.config.id);
    return (await this.ctx.redis.sismember(key, `${sessionId}:${attempt}`)) === 1;
  }

  /**
   * After each heartbeat: attempts the manager ended or placed again elsewhere while this
   * agent was silent past its grace window are stopped and removed at once, without a report
   * (the manager's cleanup jobs say the same; this does not wait for them).
   */
  async stopSuperseded(): Promise<void> {
    const { sessions, redis, config } = this.ctx;
    if (sessions.size === 0) return;
    const gone = new Set(await redis.smembers(supersededKey(config.queuePrefix, config.id)));
    if (gone.size === 0) return;
    for (const t of sessions.all()) {
      if (t.state !== 'preparing' && gone.has(`${t.sessionId}:${t.attempt}`)) await this.dropSuperseded(t);
    }
  }

  async dropSuperseded(t: Tracked): Promise<void> {
    this.ctx.log.info('stopping a superseded attempt', { sessionId: t.sessionId, attempt: t.attempt });
    t.stopReason = t.stopReason ?? 'superseded';
    this.forget(t);
    this.ctx.sessions.markFinished(t.sessionId, t.attempt);
    await this.removeContainers(t);
  }
}
