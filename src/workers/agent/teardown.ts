import { supersededKey } from '../../queue/names.js';
import type { AgentContext } from './agent-context.js';
import { StartBarrier } from './barrier.js';
import { cutWait, stopTimers, type Tracked } from './tracked.js';

/**
 * Letting go of a session: removing its containers, forgetting it, abandoning a start, and
 * the attempts the manager gave up on while this agent was out of reach (superseded).
 */
export class Teardown {
  constructor(private readonly ctx: AgentContext) {}

  async removeContainers(tracked: Tracked): Promise<void> {
    for (const c of tracked.containers) await this.ctx.docker.remove(c.containerId);
    if (tracked.network) await this.ctx.docker.removeNetwork(tracked.network);
    if (tracked.barrier) {
      const kernels = tracked.containers.map((c) => c.kernelId);
      await new StartBarrier(this.ctx).remove(kernels, tracked.attempt);
    }
  }

  /** Drops a session whose containers are gone: no timers, no slots, not in the heartbeat. */
  forget(t: Tracked): void {
    stopTimers(t);
    cutWait(t);
    t.state = 'exited';
    this.release(t);
  }

  /**
   * Removes a session's containers, then lets go of it (slots released, dropped from the
   * table). A failed removal keeps it tracked and throws, unless `onRemoveFailed` takes the
   * error: then it is let go of all the same (its containers are found again by label).
   */
  async discard(t: Tracked, onRemoveFailed?: (err: unknown) => void): Promise<void> {
    await this.removeContainers(t).catch((err: unknown) => {
      if (!onRemoveFailed) throw err;
      onRemoveFailed(err);
    });
    this.release(t);
  }

  /** Stopped before its command started: removed, and reported CANCELLED. */
  async abandon(tracked: Tracked, reason: string): Promise<void> {
    await this.discard(tracked);
    this.ctx.sessions.markFinished(tracked.sessionId, tracked.attempt);
    await this.ctx.reports.abandoned(tracked, reason);
  }

  private release(t: Tracked): void {
    this.ctx.allocator.release(t.sessionId);
    this.ctx.sessions.delete(t.sessionId);
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
