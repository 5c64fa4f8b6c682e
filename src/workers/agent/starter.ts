import { PERMIT_TTL_MS, permitDelay } from '../../domain/release-timing.js';
import { clearLongTimeout, setLongTimeout, setLongTimeoutAt, type LongTimeout } from '../long-timer.js';
import { sessionLog, type AgentContext } from './agent-context.js';
import { StartBarrier } from './barrier.js';
import { ReleaseClock, type ArmedHandle, type ReleaseOutcome } from './release-clock.js';
import type { Teardown } from './teardown.js';
import { mainOf, startOnce, type Tracked } from './tracked.js';
import type { Watcher } from './watcher.js';

/** A permit the main loop could not get (Redis did not answer) is asked for again this soon. */
const PERMIT_RETRY_MS = 500;

/**
 * The last step of a run: start a created session's containers (subs first, then the main),
 * now or when its start timer fires, and hand the main to the watcher. A session created
 * behind a start barrier is started ahead (`hold`) and released at its instant. Used by the
 * run pipeline and by adoption (a created or held container found after a restart or an
 * engine outage).
 */
export class SessionStarter {
  private readonly barrier: StartBarrier;
  /** Fires the barriers' releases in a thread of its own (release-clock.ts). */
  private readonly clock: ReleaseClock;

  constructor(
    private readonly ctx: AgentContext,
    private readonly watcher: Watcher,
    private readonly teardown: Teardown,
  ) {
    this.barrier = new StartBarrier(ctx);
    this.clock = new ReleaseClock(ctx.log);
  }

  /** Cancels the releases still armed (their sessions' timers are cleared too) and stops the clock. */
  close(): Promise<void> {
    return this.clock.close();
  }

  async startSession(tracked: Tracked): Promise<void> {
    // A start or hold in flight (the engine answered again during it): that one decides.
    if (tracked.starting) return tracked.starting;
    if (tracked.barrier) return this.release(tracked);
    if (tracked.stopReason || tracked.state !== 'created') return;
    return startOnce(tracked, async () => {
      if (await this.superseded(tracked)) return;
      const t0 = performance.now();
      await this.startContainers(tracked);
      sessionLog(this.ctx, tracked).info('session started', { containers: tracked.containers.length });
      await this.running(tracked, Date.now(), t0, true);
    });
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
    return startOnce(tracked, async () => {
      await this.startContainers(tracked);
      if (tracked.stopReason || tracked.state !== 'created') return; // destroyed meanwhile: teardown removes it
      sessionLog(this.ctx, tracked).info('session held at its start barrier', { startsAt: b.startsAt });
      this.armRelease(tracked, b.startsAt);
    });
  }

  /**
   * Arms a held session's release in the release clock, which writes its FIFOs at `startsAt`
   * whatever the main loop is doing. The main loop asks Redis ahead (PERMIT_LEAD_MS) whether
   * the attempt was superseded and hands the clock a permit, renewed while the release waits
   * for it; destroy, cleanup, supersession and close cancel it through `startTimer`.
   */
  private armRelease(tracked: Tracked, startsAt: number): void {
    clearLongTimeout(tracked.startTimer);
    const handle = this.clock.arm(
      startsAt,
      this.barrier.fifos(tracked),
      this.barrier.releasedAtFile(tracked),
    );
    let check: LongTimeout | null = null;
    const ask = (): void => {
      check = null;
      this.permit(tracked, handle, startsAt).then(
        (askedAt) => {
          // Asked again if the clock has not fired by the time the permit goes stale.
          const next =
            askedAt === null ? Date.now() + PERMIT_RETRY_MS : Math.max(startsAt, askedAt) + PERMIT_TTL_MS / 2;
          if (handle.armed) check = setLongTimeoutAt(ask, next);
        },
        (err) => {
          sessionLog(this.ctx, tracked).error('release check failed', { err: String(err) });
          if (handle.armed) check = setLongTimeout(ask, PERMIT_RETRY_MS);
        },
      );
    };
    check = setLongTimeout(ask, permitDelay(startsAt, Date.now()));
    const timer: LongTimeout = {
      at: startsAt,
      get active() {
        return handle.armed;
      },
      clear() {
        clearLongTimeout(check);
        check = null;
        handle.cancel();
      },
    };
    tracked.startTimer = timer;
    const t0 = performance.now();
    void handle.outcome
      .then(async (o) => {
        clearLongTimeout(check);
        if (tracked.startTimer === timer) tracked.startTimer = null;
        await this.released(tracked, o, t0);
      })
      .catch((err) => this.ctx.log.error('release failed', { err: String(err) }));
  }

  /**
   * Asks whether the attempt was superseded and, if not, permits the release: the time it
   * asked, or null when the session is no longer to be released (dropped, stopped).
   */
  private async permit(tracked: Tracked, handle: ArmedHandle, startsAt: number): Promise<number | null> {
    if (!handle.armed) return null;
    if (tracked.stopReason || tracked.state !== 'created') {
      handle.cancel();
      return null;
    }
    const askedAt = Date.now();
    if (await this.superseded(tracked)) return null; // dropped: its timers (this release) cleared
    handle.permit(askedAt);
    const block = this.ctx.config.testBlockLoopAfterPermitMs;
    if (block > 0) {
      // Test only (BAI_TEST_BLOCK_LOOP_AFTER_PERMIT_MS): the main loop is busy across the instant.
      while (Date.now() < startsAt + block);
      sessionLog(this.ctx, tracked).info('test: main loop was blocked', { until: Date.now() });
    }
    return askedAt;
  }

  /** What the clock did: carry on from there (report RUNNING, or finish a partial release). */
  private async released(tracked: Tracked, o: ReleaseOutcome, t0: number): Promise<void> {
    const b = tracked.barrier;
    if (!b || o.type === 'cancelled') return;
    if (o.type === 'lost') return this.release(tracked); // the main loop releases it, as before
    if (o.type === 'lost-fired') {
      // Taken by a thread that died: released if its shell no longer waits.
      const st = await this.ctx.docker.inspect(mainOf(tracked).containerId);
      const at = await this.barrier.ranAt(tracked, st?.running ? st.startedAt : null);
      if (at === null) return this.release(tracked);
      return this.afterRelease(tracked, at, t0, null);
    }
    if (tracked.stopReason) return; // destroyed during the release: the teardown reports it
    if (o.error !== null) {
      // Stopped at a FIFO its shell did not wait on yet (ENXIO), or a file error: go on from it.
      try {
        await this.barrier.release(tracked, o.releasedAt, o.written);
      } catch (err) {
        return this.releaseFailed(tracked, err);
      }
    }
    await this.afterRelease(tracked, o.releasedAt, t0, o.error === null ? o.wroteAt - o.releasedAt : null);
  }

  /**
   * The instant: let the held command run, never before `startsAt` by the agent's clock. The
   * session is RUNNING from the release (its `started_at`), not from Docker's start.
   */
  private async release(tracked: Tracked): Promise<void> {
    const b = tracked.barrier;
    if (!b || tracked.stopReason || tracked.state !== 'created') return;
    if (await this.superseded(tracked)) return;
    while (Date.now() < b.startsAt) await new Promise((r) => setTimeout(r, b.startsAt - Date.now()));
    if (tracked.stopReason || tracked.state !== 'created') return;
    const releasedAt = Date.now();
    const t0 = performance.now();
    try {
      await this.barrier.release(tracked, releasedAt);
    } catch (err) {
      return this.releaseFailed(tracked, err);
    }
    await this.afterRelease(tracked, releasedAt, t0, null);
  }

  private async releaseFailed(tracked: Tracked, err: unknown): Promise<void> {
    if (tracked.stopReason) return; // destroyed during the release: the teardown reports it
    // The engine went away: released again when it answers (Adoption.engineBack).
    if (!this.ctx.engine.isUp) throw err;
    sessionLog(this.ctx, tracked).error('release failed', { err: String(err) });
    await this.teardown.discard(tracked);
    await this.ctx.reports.failed(tracked, 'ERROR', 'failed-to-start', `Start barrier: ${String(err)}`);
  }

  /** Released at `releasedAt` (its FIFOs written `wroteMs` later by the clock): RUNNING. */
  private async afterRelease(
    tracked: Tracked,
    releasedAt: number,
    t0: number,
    wroteMs: number | null,
  ): Promise<void> {
    const b = tracked.barrier!;
    sessionLog(this.ctx, tracked).info('session released', { late: releasedAt - b.startsAt, wroteMs });
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

  /**
   * Its command runs since `startedAt` (the start began at `t0`): followed, and reported RUNNING.
   * `fresh`: its containers were started just now by this agent (not released from a barrier).
   */
  private async running(tracked: Tracked, startedAt: number, t0: number, fresh = false): Promise<void> {
    this.ctx.metrics?.observeStart(tracked.containers.length, (performance.now() - t0) / 1000);
    tracked.state = 'running';
    this.watcher.watch(tracked, startedAt, fresh);
    const data = { startedAt: new Date(startedAt).toISOString() };
    const hold = this.ctx.config.runningHoldMs;
    // Started just now (not released from a barrier, whose RUNNING is its start time's news):
    // a main that ends within the hold is reported once, by its exit.
    if (fresh && hold > 0) {
      this.ctx.reports.holdRunning(tracked, data, hold, (err) =>
        sessionLog(this.ctx, tracked).error('RUNNING report failed', { err: String(err) }),
      );
      return;
    }
    await this.ctx.reports.running(tracked, data);
  }
}
