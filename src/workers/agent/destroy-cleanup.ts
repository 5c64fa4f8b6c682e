import { LABEL, clusterNetworkName } from '../../domain/container-plan.js';
import type { CleanupSessionJob, DestroySessionJob } from '../../queue/payloads.js';
import { clearLongTimeout } from '../long-timer.js';
import { BARRIER_LABEL } from '../../domain/start-barrier.js';
import type { AgentContext } from './agent-context.js';
import { StartBarrier } from './barrier.js';
import type { Teardown } from './teardown.js';
import { mainOf, stopTimers } from './tracked.js';
import type { Watcher } from './watcher.js';

/**
 * The manager's `destroy-session` (stop what runs, or abandon what has not started) and
 * `cleanup-session` (the end is recorded: remove the containers) jobs.
 */
export class DestroyAndCleanup {
  constructor(
    private readonly ctx: AgentContext,
    private readonly watcher: Watcher,
    private readonly teardown: Teardown,
  ) {}

  async destroySession(job: DestroySessionJob): Promise<void> {
    const tracked = this.ctx.sessions.get(job.sessionId);
    if (!tracked) {
      // Nothing here (never arrived, or already removed): say so, so the manager can end it.
      await this.ctx.reports.nothingHere(job.sessionId, job.reason);
      return;
    }
    tracked.stopReason = job.reason;
    if (tracked.state === 'running') {
      // The watcher reports the exit; with the engine away, the stop waits for its return.
      this.watcher.requestStop(tracked, job.forced ? 'kill' : 'stop');
      return;
    }
    if (tracked.state === 'created') {
      clearLongTimeout(tracked.startTimer);
      tracked.startTimer = null;
      if (!this.ctx.engine.isUp) return; // abandoned when the engine answers again (engineBack)
      await this.teardown.abandon(tracked, job.reason);
    }
    // 'preparing': the run handler sees stopReason between steps and abandons.
  }

  async cleanupSession(job: CleanupSessionJob): Promise<void> {
    const { sessions, docker, config } = this.ctx;
    const current = sessions.get(job.sessionId);
    const tracked = current && current.attempt <= job.attempt ? current : undefined;
    if (tracked && tracked.state === 'running') {
      // The manager ended it (agent-lost, timeout) while it still runs here: stop it first.
      tracked.stopReason = tracked.stopReason ?? 'cleanup';
      await docker.kill(mainOf(tracked).containerId);
    }
    if (tracked) stopTimers(tracked);
    if (tracked?.sole && tracked.attempt === job.attempt && ['running', 'exited'].includes(tracked.state)) {
      // Its containers are all the session has on the engine (Tracked.sole): no list needed.
      for (const c of tracked.containers) await docker.remove(c.containerId);
      if (tracked.barrier)
        await new StartBarrier(this.ctx).remove(
          tracked.containers.map((c) => c.kernelId),
          tracked.attempt,
        );
    } else {
      // Only this agent's containers: a cleanup is sent to whichever agent reported on the
      // session, and another agent (on the same engine, or a forger) must not have the real
      // one's removed.
      const found = await docker.list([`${LABEL.session}=${job.sessionId}`, `${LABEL.agent}=${config.id}`]);
      for (const c of found) {
        const attempt = Number(c.labels[LABEL.attempt] ?? '0');
        if (attempt > job.attempt) continue;
        await docker.remove(c.id);
        if (c.labels[BARRIER_LABEL] === '1')
          await new StartBarrier(this.ctx).remove([c.labels[LABEL.kernel] ?? ''], attempt);
      }
    }
    if (!current || tracked) {
      sessions.markFinished(job.sessionId, tracked?.attempt ?? job.attempt);
      // A one-kernel session never had a network: no call that would answer 404.
      if (!tracked?.singleKernel) await docker.removeNetwork(clusterNetworkName(job.sessionId));
      if (tracked) this.teardown.forget(tracked);
    }
  }
}
