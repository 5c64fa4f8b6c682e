import { clearLongTimeout, setLongTimeout } from '../long-timer.js';
import { sessionLog, type AgentContext } from './agent-context.js';
import { StartBarrier } from './barrier.js';
import type { Teardown } from './teardown.js';
import { mainOf, type Tracked } from './tracked.js';
import type { Watcher } from './watcher.js';

/** The release timer fires this much before the instant: the checks before it are done by then. */
const RELEASE_EARLY_MS = 25;

/**
 * The last step of a run: start a created session's containers (subs first, then the main),
 * now or when its start timer fires, and hand the main to the watcher. A session created
 * behind a start barrier is started ahead (`hold`) and released at its instant. Used by the
 * run pipeline and by adoption (a created or held container found after a restart or an
 * engine outage).
 */
export class SessionStarter {
  private readonly barrier: StartBarrier;

  constructor(
    private readonly ctx: AgentContext,
    private readonly watcher: Watcher,
    private readonly teardown: Teardown,
  ) {
    this.barrier = new StartBarrier(ctx);
  }

  async startSession(tracked: Tracked): Promise<void> {
    if (tracked.barrier) return this.release(tracked);
    if (tracked.stopReason || tracked.state !== 'created') return;
    if (await this.superseded(tracked)) return;
    const t0 = performance.now();
    await this.startContainers(tracked);
    sessionLog(this.ctx, tracked).info('session started', { containers: tracked.containers.length });
    await this.running(tracked, Date.now(), t0);
  }

  /** Starts it after `delayMs`; a session behind a barrier is held now and released then. */
  armStart(tracked: Tracked, delayMs: number): void {
    if (tracked.barrier) {
      this.hold(tracked).catch((err) => this.ctx.log.error('hold failed', { err: String(err) }));
      return;
    }
    tracked.startTimer = setLongTimeout(() => {
      tracked.startTimer = null;
      this.startSession(tracked).catch((err) => this.ctx.log.error('start failed', { err: String(err) }));
    }, delayMs);
  }

  /**
   * Starts a barrier session's containers now (subs first), their shells waiting at the
   * barrier, and arms its release. The session stays `created` (not RUNNING) until released.
   */
  async hold(tracked: Tracked): Promise<void> {
    const b = tracked.barrier;
    if (!b || tracked.stopReason || tracked.state !== 'created') return;
    await this.startContainers(tracked);
    if (tracked.stopReason || tracked.state !== 'created') return; // destroyed meanwhile: teardown removes it
    sessionLog(this.ctx, tracked).info('session held at its start barrier', { startsAt: b.startsAt });
    clearLongTimeout(tracked.startTimer);
    tracked.startTimer = setLongTimeout(
      () => {
        tracked.startTimer = null;
        this.release(tracked).catch((err) => this.ctx.log.error('release failed', { err: String(err) }));
      },
      Math.max(0, b.startsAt - RELEASE_EARLY_MS - Date.now()),
    );
  }

  /**
   * The instant: let the held command run, never before `startsAt` by the agent's clock. The
   * session is RUNNING from the release (its `started_at`), not from Docker's start.
   */
  private async release(tracked: Tracked): Promise<void> {
    const b = tracked.barrier;
    if (!b || tracked.stopReason || tracked.state !== 'created') return;
    if (await this.superseded(tracked)) return;
    // The timer fired early on purpose (and timers round): wait out the last milliseconds.
    while (Date.now() < b.startsAt) await new Promise((r) => setTimeout(r, b.startsAt - Date.now()));
    if (tracked.stopReason || tracked.state !== 'created') return;
    const releasedAt = Date.now();
    const t0 = performance.now();
    try {
      await this.barrier.release(tracked, releasedAt);
    } catch (err) {
      if (tracked.stopReason) return; // destroyed during the release: the teardown reports it
      // The engine went away: released again when it answers (Adoption.engineBack).
      if (!this.ctx.engine.isUp) throw err;
      sessionLog(this.ctx, tracked).error('release failed', { err: String(err) });
      await this.teardown.discard(tracked);
      await this.ctx.reports.failed(tracked, 'ERROR', 'failed-to-start', `Start barrier: ${String(err)}`);
      return;
    }
    sessionLog(this.ctx, tracked).info('session released', { late: releasedAt - b.startsAt });
    b.releasedAt = releasedAt;
    await this.running(tracked, releasedAt, t0);
  }

  /**
   * Whether the manager gave this attempt up (a start timer or release that fired as this agent
   * came back from an outage): then it is dropped here.
   */
  private async superseded(tracked: Tracked): Promise<boolean> {
    if (!(await this.teardown.isSuperseded(tracked.sessionId, tracked.attempt))) return false;
    await this.teardown.dropSuperseded(tracked);
    return true;
  }

  /** Starts the session's containers, subs first, then the main. */
  private async startContainers(tracked: Tracked): Promise<void> {
    for (const c of tracked.containers.filter((c) => c.role === 'sub'))
      await this.ctx.docker.start(c.containerId);
    await this.ctx.docker.start(mainOf(tracked).containerId);
  }

  /** Its command runs since `startedAt` (the start began at `t0`): followed, and reported RUNNING. */
  private async running(tracked: Tracked, startedAt: number, t0: number): Promise<void> {
    this.ctx.metrics?.observeStart(tracked.containers.length, (performance.now() - t0) / 1000);
    tracked.state = 'running';
    this.watcher.watch(tracked, startedAt);
    await this.ctx.reports.running(tracked, { startedAt: new Date(startedAt).toISOString() });
  }
}
