import { TIMEOUT_EXIT_CODE, endedByTimeout } from '../../domain/batch-result.js';
import { storedOutput } from '../../domain/output-tail.js';
import type { ContainerState } from '../../docker/docker-adapter.js';
import { clearLongTimeout, setLongTimeout } from '../long-timer.js';
import type { KernelExitedReport } from '../../queue/payloads.js';
import { sessionLog, type AgentContext } from './agent-context.js';
import { finishLogs, followLogs } from './log-copier.js';
import type { Teardown } from './teardown.js';
import { cutWait, mainOf, type Tracked } from './tracked.js';

/**
 * How long a wait may take to answer after the engine's `die` event for its container before it
 * is cut (and the container inspected): both come at the same moment when the wait's connection
 * is sound, and a wait cut for nothing costs its connection and an error.
 */
const DIED_WAIT_GRACE_MS = 1_000;

/**
 * Watches a running main container: Docker's wait (cut and resumed as the engine goes and
 * comes back), the batch timeout, stops asked while it runs, and its exit, reported from
 * Docker's own record (exit code, OOM, times, output).
 */
export class Watcher {
  constructor(
    private readonly ctx: AgentContext,
    private readonly teardown: Teardown,
  ) {}

  /**
   * Tracks a running main container until it exits; arms the batch timeout. `fresh`: this agent
   * started it just now (its output is followed from the first line; see followLogs).
   */
  watch(tracked: Tracked, startedAtMs: number, fresh = false): void {
    const { docker, engine, log, closing } = this.ctx;
    const main = mainOf(tracked);
    if (tracked.batchTimeoutSec !== null) {
      const left = startedAtMs + tracked.batchTimeoutSec * 1000 - Date.now();
      tracked.timeoutTimer = setLongTimeout(
        () => {
          tracked.timeoutTimer = null;
          tracked.timedOut = true;
          this.requestStop(tracked, 'kill');
        },
        Math.max(0, left),
      );
    }
    followLogs(this.ctx, tracked, main.kernelId, main.containerId, fresh);
    // Resolves once the main has exited, with its state when it was read on the way (a wait cut
    // by the engine's `die` event is followed by an inspect: the exit report reuses it).
    const waitLoop = async (): Promise<ContainerState | null | undefined> => {
      for (;;) {
        await engine.whenUp();
        if (closing.aborted || tracked.state !== 'running') return undefined;
        const ctl = new AbortController();
        tracked.waitAbort = ctl;
        const onClose = () => cutWait(tracked);
        closing.addEventListener('abort', onClose);
        try {
          await docker.wait(main.containerId, ctl.signal);
          return undefined;
        } catch (err) {
          if (closing.aborted || tracked.state !== 'running') return undefined;
          // Cut on purpose (engine away or re-read), or the connection broke: ask the engine
          // how the container stands before waiting again.
          const st = await docker.inspect(main.containerId).catch((inspectErr: unknown) => {
            // The engine does not answer either: unknown, so wait again once it is back.
            log.error('inspect after a cut wait failed', {
              sessionId: tracked.sessionId,
              err: String(inspectErr),
            });
            return undefined;
          });
          if (st === null || (st && !st.running)) return st;
          if (!ctl.signal.aborted) {
            log.error('wait failed; retrying', { err: String(err) });
            engine.suspect();
            await new Promise((r) => setTimeout(r, 1000));
          }
        } finally {
          closing.removeEventListener('abort', onClose);
          if (tracked.waitAbort === ctl) tracked.waitAbort = null;
          if (tracked.diedTimer) clearTimeout(tracked.diedTimer);
          tracked.diedTimer = null;
        }
      }
    };
    waitLoop()
      .then((seen) =>
        closing.aborted || tracked.state !== 'running' ? undefined : this.onMainExit(tracked, seen),
      )
      .catch((err) => log.error('exit handling failed', { err: String(err) }));
  }

  /**
   * Kills (timeout, forced destroy) or stops (destroy) a running main. When the engine does not
   * take it, the request is kept and applied as soon as the engine answers again.
   */
  requestStop(tracked: Tracked, how: 'kill' | 'stop'): void {
    if (tracked.pendingStop !== 'kill') tracked.pendingStop = how;
    this.applyStop(tracked).catch((err: unknown) => {
      this.ctx.log.error('stop deferred until the engine answers', {
        sessionId: tracked.sessionId,
        err: String(err),
      });
      this.ctx.engine.suspect();
    });
  }

  async applyStop(tracked: Tracked): Promise<void> {
    const how = tracked.pendingStop;
    if (!how || tracked.state !== 'running') return;
    const main = mainOf(tracked);
    if (how === 'kill') await this.ctx.docker.kill(main.containerId);
    else await this.ctx.docker.stop(main.containerId, this.ctx.config.stopGraceSeconds);
    if (tracked.pendingStop === how) tracked.pendingStop = null;
  }

  /** The engine is away: cut the waits and log streams that would hang on it. */
  engineDown(): void {
    for (const t of this.ctx.sessions.all()) {
      t.sole = false; // its cleanup lists the engine's containers again

      cutWait(t);
      t.stopLogs?.();
      t.stopLogs = null;
    }
  }

  /**
   * A container of ours died (event stream): if it is a tracked main whose wait has not
   * answered within DIED_WAIT_GRACE_MS, the wait is cut and the watcher settles it from an
   * inspect (a wait whose connection hangs must not hold the exit report).
   */
  containerDied(containerId: string): void {
    for (const t of this.ctx.sessions.all()) {
      if (t.state !== 'running' || t.diedTimer || !t.waitAbort) continue;
      if (mainOf(t).containerId !== containerId) continue;
      const ctl = t.waitAbort;
      t.diedTimer = setTimeout(() => {
        t.diedTimer = null;
        if (t.waitAbort === ctl) cutWait(t);
      }, DIED_WAIT_GRACE_MS);
    }
  }

  /** Follows a running main's output again (after the engine's return). */
  refollowLogs(t: Tracked): void {
    const main = mainOf(t);
    t.stopLogs?.();
    t.stopLogs = null;
    followLogs(this.ctx, t, main.kernelId, main.containerId);
  }

  /** The watcher saw the main exit: stop its timers and report, once. */
  private async onMainExit(tracked: Tracked, seen: ContainerState | null | undefined): Promise<void> {
    if (tracked.state === 'exited') return;
    tracked.state = 'exited';
    if (tracked.timeoutTimer) clearLongTimeout(tracked.timeoutTimer);
    await this.reportExit(tracked, seen);
  }

  /**
   * Reports how the main ended, from Docker's own record (exit code, OOM, times, logs). Safe
   * to repeat: the container stays until the manager's cleanup, and the report id is stable.
   * `seen`: the main's state read since it exited (undefined: none). The exit state and the
   * output are read together (each waits on the engine or Redis). The report is sent by the
   * script that looks whether the manager gave the attempt up (superseded): then nothing is
   * sent, and the attempt is dropped here.
   */
  async reportExit(tracked: Tracked, seen?: ContainerState | null): Promise<void> {
    const main = mainOf(tracked);
    const state = this.exitState(tracked, main.containerId, seen);
    const finished = finishLogs(this.ctx, tracked, main);
    // Both awaited below; a failure of the second is not left unhandled meanwhile.
    finished.catch(() => {});
    const st = await state;
    const output = await finished;
    const subs = tracked.containers.filter((c) => c.role === 'sub');
    await Promise.all(subs.map((c) => this.ctx.docker.kill(c.containerId)));
    // Stopped, their output ends: kept with the kernel (`logs?kernel_id=`), as Backend.AI shows it.
    const limit = this.ctx.config.logLimitBytes;
    const tails = await Promise.all(
      subs.map((c) =>
        this.ctx.docker.logTail(c.containerId, limit).catch((err: unknown) => {
          this.ctx.log.error("reading a sub's output failed; its logs stay empty", {
            sessionId: tracked.sessionId,
            kernelId: c.kernelId,
            err: String(err),
          });
          return null;
        }),
      ),
    );
    const subLogs: NonNullable<KernelExitedReport['subLogs']> = subs.flatMap((c, i) => {
      const tail = tails[i];
      if (!tail) return [];
      return [
        {
          kernelId: c.kernelId,
          logs: storedOutput(tail, limit),
          truncated: tail.truncated,
          totalBytes: tail.bytes,
        },
      ];
    });
    this.ctx.allocator.release(tracked.sessionId);
    // Ended before its RUNNING report went: this report carries it.
    const running = this.ctx.reports.takeHeldRunning(tracked);
    const exitCode = tracked.timedOut ? TIMEOUT_EXIT_CODE : (st?.exitCode ?? -1);
    sessionLog(this.ctx, tracked).info('session exited', { exitCode, stoppedFor: tracked.stopReason });
    const sent = await this.ctx.reports.kernelExited({
      sessionId: tracked.sessionId,
      attempt: tracked.attempt,
      kernelId: main.kernelId,
      exitCode,
      timedOut: tracked.timedOut,
      oomKilled: st?.oomKilled ?? false,
      stoppedFor: tracked.stopReason,
      logs: output.logs,
      logsTruncated: output.truncated,
      logsTotalBytes: output.totalBytes,
      subLogs,
      startedAt: st?.startedAt ?? null,
      finishedAt: st?.finishedAt ?? Date.now(),
      ...(running ? { running } : {}),
    });
    if (!sent) await this.teardown.dropSuperseded(tracked); // its result is not this session's any more
  }

  /**
   * The main's final state. Docker learns of an OOM kill from a separate event that can arrive
   * after the exit (seen on cgroup v1 under load), so an unexplained SIGKILL (137, not ours) is
   * looked at again for a moment before it is reported as a plain failure.
   */
  private async exitState(
    tracked: Tracked,
    containerId: string,
    seen: ContainerState | null | undefined,
  ): Promise<ContainerState | null> {
    // Behind a start barrier the command started at its release, not at Docker's start.
    const asReleased = (s: ContainerState | null) => {
      const released = tracked.barrier?.releasedAt;
      return s && released ? { ...s, startedAt: released } : s;
    };
    const inspect = async () => asReleased(await this.ctx.docker.inspect(containerId));
    let st = seen !== undefined ? asReleased(seen) : await inspect();
    if (killedAtTimeout(tracked, st)) tracked.timedOut = true; // by an agent that died before reporting
    // The timer fired while the engine was away and the container had ended on its own: its
    // own exit is the truth.
    if (tracked.timedOut && st && !endedByTimeout(tracked.batchTimeoutSec, st)) tracked.timedOut = false;
    const unexplained = () =>
      st !== null && st.exitCode === 137 && !st.oomKilled && !tracked.timedOut && !tracked.stopReason;
    for (let i = 0; i < 20 && unexplained(); i++) {
      await new Promise((r) => setTimeout(r, 100));
      st = await inspect();
    }
    return st;
  }
}

/** A SIGKILL at or past the batch timeout: the agent's own timeout kill, seen after a restart. */
function killedAtTimeout(t: Tracked, st: ContainerState | null): boolean {
  if (t.batchTimeoutSec === null || t.stopReason !== null || !st) return false;
  if (st.exitCode !== 137 || st.oomKilled) return false;
  if (st.startedAt === null || st.finishedAt === null) return false;
  return st.finishedAt - st.startedAt >= t.batchTimeoutSec * 1000;
}
