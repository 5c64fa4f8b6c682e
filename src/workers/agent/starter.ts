import { setLongTimeout } from '../long-timer.js';
import { sessionLog, type AgentContext } from './agent-context.js';
import type { Teardown } from './teardown.js';
import { mainOf, type Tracked } from './tracked.js';
import type { Watcher } from './watcher.js';

/**
 * The last step of a run: start a created session's containers (subs first, then the main),
 * now or when its start timer fires, and hand the main to the watcher. Used by the run
 * pipeline and by adoption (a created container found after a restart or an engine outage).
 */
export class SessionStarter {
  constructor(
    private readonly ctx: AgentContext,
    private readonly watcher: Watcher,
    private readonly teardown: Teardown,
  ) {}

  async startSession(tracked: Tracked): Promise<void> {
    if (tracked.stopReason || tracked.state !== 'created') return;
    if (await this.teardown.isSuperseded(tracked.sessionId, tracked.attempt)) {
      // A start timer that fired as this agent came back from an outage the manager gave up on.
      await this.teardown.dropSuperseded(tracked);
      return;
    }
    const t0 = performance.now();
    for (const c of tracked.containers.filter((c) => c.role === 'sub'))
      await this.ctx.docker.start(c.containerId);
    const main = mainOf(tracked);
    await this.ctx.docker.start(main.containerId);
    this.ctx.metrics?.observeStart(tracked.containers.length, (performance.now() - t0) / 1000);
    sessionLog(this.ctx, tracked).info('session started', { containers: tracked.containers.length });
    tracked.state = 'running';
    this.watcher.watch(tracked, Date.now());
    await this.ctx.reports.running(tracked, { startedAt: new Date().toISOString() });
  }

  /** Starts it after `delayMs`. */
  armStart(tracked: Tracked, delayMs: number): void {
    tracked.startTimer = setLongTimeout(() => {
      tracked.startTimer = null;
      this.startSession(tracked).catch((err) => this.ctx.log.error('start failed', { err: String(err) }));
    }, delayMs);
  }
}
