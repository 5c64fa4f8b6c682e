import {
  LABEL,
  batchTimeoutFromLabel,
  clusterNetworkName,
  sessionOfNetwork,
  slotsFromLabel,
} from '../../domain/container-plan.js';
import type { ContainerState, ContainerSummary } from '../../docker/docker-adapter.js';
import { BARRIER_LABEL } from '../../domain/start-barrier.js';
import { clearLongTimeout } from '../long-timer.js';
import type { AgentContext } from './agent-context.js';
import { StartBarrier } from './barrier.js';
import type { SessionStarter } from './starter.js';
import type { Teardown } from './teardown.js';
import { cutWait, mainOf, newTracked, type Tracked } from './tracked.js';
import type { Watcher } from './watcher.js';

/**
 * Carrying on with containers found by label: at start (a restarted agent re-adopts what its
 * predecessor left), for a run job whose containers already exist, and when the engine
 * answers again after an outage.
 */
export class Adoption {
  constructor(
    private readonly ctx: AgentContext,
    private readonly watcher: Watcher,
    private readonly teardown: Teardown,
    private readonly starter: SessionStarter,
  ) {}

  /** At start: find this agent's containers by label and carry on with them. */
  async adoptAll(): Promise<void> {
    const { docker, config, sessions, log } = this.ctx;
    const bySession = await this.mineBySession();
    for (const group of bySession.values()) {
      await this.adoptAndResync(group);
    }
    // A cluster network left by a crash between its creation and its containers' has no owner.
    const nets = await docker.listNetworks([`${LABEL.managed}=true`, `${LABEL.agent}=${config.id}`]);
    for (const n of nets) {
      if (sessions.has(sessionOfNetwork(n))) continue;
      await docker
        .removeNetwork(n)
        .catch((err: unknown) => log.error('orphan network', { network: n, err: String(err) }));
    }
  }

  /** Tracks a session from its containers (one attempt's) and says again where it stands. */
  async adoptAndResync(found: ContainerSummary[]): Promise<void> {
    const t = await this.adoptSession(found);
    if (t) await this.resync(t);
  }

  /** Tracks a session from its containers (one attempt's); the tracked one if it is known. */
  private async adoptSession(found: ContainerSummary[]): Promise<Tracked | null> {
    const { sessions, allocator, docker } = this.ctx;
    const first = found[0];
    if (!first) return null;
    const sessionId = first.labels[LABEL.session] ?? '';
    const attempt = Number(first.labels[LABEL.attempt] ?? '1');
    const existing = sessions.get(sessionId);
    if (existing) return existing;
    const mainC = found.find((c) => c.labels[LABEL.role] === 'main');
    const tracked = newTracked(
      sessionId,
      attempt,
      mainC ? batchTimeoutFromLabel(mainC.labels) : null,
      'created',
    );
    tracked.containers = found.map((c) => ({
      kernelId: c.labels[LABEL.kernel] ?? '',
      containerId: c.id,
      role: c.labels[LABEL.role] === 'sub' ? 'sub' : 'main',
    }));
    tracked.network = found.length > 1 ? clusterNetworkName(sessionId) : null;
    sessions.set(tracked);
    if (!mainC) {
      tracked.state = 'exited';
      return tracked;
    }
    allocator.adopt(sessionId, slotsFromLabel(mainC.labels));
    const st = await docker.inspect(mainC.id);
    const startsAt = Number(mainC.labels[LABEL.startsAt] || '0');
    if (st && mainC.labels[BARRIER_LABEL] === '1')
      tracked.barrier = await this.barrierOf(startsAt, tracked, st);
    if (tracked.barrier && tracked.barrier.releasedAt === null) {
      await this.starter.hold(tracked); // its command has not run: held again, released at starts_at
    } else if (st?.running) {
      tracked.state = 'running';
      this.watcher.watch(tracked, tracked.barrier?.releasedAt ?? st.startedAt ?? Date.now());
    } else if (st && st.startedAt === null) {
      this.starter.armStart(tracked, Math.max(0, startsAt - Date.now()));
    } else {
      tracked.state = 'exited';
      await this.watcher.reportExit(tracked); // ended while nobody watched: report its true exit code
    }
    return tracked;
  }

  /**
   * A session created behind a start barrier. Its command ran only if it was released (the
   * barrier folder says when) and no shell of it waits at the barrier any more: then it is
   * followed, or reported, like any other, from its release. Otherwise (`releasedAt` null) it
   * is held again (started, if an engine restart stopped it) and released at its starts_at — at
   * once when that passed while no agent held it: a late start, as the timed path makes
   * (docs/scheduling.md).
   */
  private async barrierOf(
    startsAt: number,
    tracked: Tracked,
    st: ContainerState,
  ): Promise<NonNullable<Tracked['barrier']>> {
    const barrier = new StartBarrier(this.ctx);
    const releasedAt = st.running
      ? await barrier.ranAt(tracked, st.startedAt)
      : await barrier.releasedAt(tracked);
    return { startsAt, releasedAt };
  }

  /** Re-sends where a session stands: used after re-adoption and on a duplicate run job. */
  async resync(t: Tracked): Promise<void> {
    if (t.state === 'running') await this.ctx.reports.running(t, {});
    else if (t.state === 'exited') await this.watcher.reportExit(t);
  }

  /**
   * The engine answers again (possibly restarted, its containers stopped or ended meanwhile):
   * re-read this agent's containers by label, as at start; report those that ended with the
   * exit code Docker recorded, apply the kills and stops asked while it was away, follow the
   * running ones again, and forget sessions whose containers are gone (nothing runs for them,
   * so they hold no slots; the manager ends them `container-lost`).
   */
  async engineBack(): Promise<void> {
    const bySession = await this.mineBySession();
    for (const t of this.ctx.sessions.all()) {
      if (t.state === 'preparing') continue; // its run job sees the engine's answers itself
      const mine = (bySession.get(t.sessionId) ?? []).filter(
        (c) => Number(c.labels[LABEL.attempt] ?? '0') === t.attempt,
      );
      bySession.delete(t.sessionId);
      if (!mine.some((c) => c.labels[LABEL.role] === 'main')) {
        this.ctx.log.error('containers gone with the engine', { sessionId: t.sessionId });
        this.teardown.forget(t);
        continue;
      }
      if (t.state === 'running') {
        const st = await this.ctx.docker.inspect(mainOf(t).containerId);
        if (st && !st.running) {
          cutWait(t); // the watcher sees it ended and reports
        } else {
          await this.watcher.applyStop(t);
          this.watcher.refollowLogs(t);
          cutWait(t); // wait again on a fresh connection
        }
      } else if (t.state === 'created' && t.stopReason) {
        clearLongTimeout(t.startTimer);
        await this.teardown.abandon(t, t.stopReason);
      } else if (t.state === 'created' && !t.startTimer) {
        await this.starter.startSession(t); // its start time came while the engine was away
      } else if (t.state === 'exited') {
        await this.watcher.reportExit(t); // its report may have failed while the engine was away
      }
    }
    // Containers of this agent it does not track (created by a start cut by the outage).
    for (const group of bySession.values()) {
      await this.adoptAndResync(group);
    }
  }

  /** This agent's containers on the engine, by session. */
  private async mineBySession(): Promise<Map<string, ContainerSummary[]>> {
    const all = await this.ctx.docker.list([`${LABEL.managed}=true`, `${LABEL.agent}=${this.ctx.config.id}`]);
    const bySession = new Map<string, ContainerSummary[]>();
    for (const c of all) {
      const sid = c.labels[LABEL.session] ?? '';
      bySession.set(sid, [...(bySession.get(sid) ?? []), c]);
    }
    return bySession;
  }
}
