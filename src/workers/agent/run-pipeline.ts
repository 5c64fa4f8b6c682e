import {
  LABEL,
  clusterNetworkName,
  creationOrder,
  kernelContainer,
  listsAtConflict,
  networkLabels,
} from '../../domain/container-plan.js';
import { ImagePullFailed, type ImageConfig } from '../../docker/docker-adapter.js';
import { statusOf } from '../../docker/docker-errors.js';
import type { ContainerSummary } from '../../docker/docker-types.js';
import {
  BARRIER_LABEL,
  barrierCommand,
  pathsTheBarrierNeeds,
  wantsBarrier,
} from '../../domain/start-barrier.js';
import { BaiError } from '../../domain/errors.js';
import { jobUser } from '../../domain/job-user.js';
import { addSlots, type Slots } from '../../domain/resources.js';
import type { RunSessionJob } from '../../queue/payloads.js';
import { sessionLog, type AgentContext } from './agent-context.js';
import type { Adoption } from './adoption.js';
import { StartBarrier } from './barrier.js';
import { storageBinds } from './mounts.js';
import type { Teardown } from './teardown.js';
import type { SessionStarter } from './starter.js';
import { newTracked, note, type Tracked } from './tracked.js';
import { ImageConfigs, lacksImage } from './image-configs.js';

/**
 * A `run-session` job: claim (slots in the agent's ledger), pull, create, and start now or
 * arm the start timer (starter.ts). The job ends there; the watcher follows the running
 * container.
 */
export class RunPipeline {
  private readonly barrier: StartBarrier;
  /** Image inspects, one per image within a short window (image-configs.ts). */
  private readonly images: ImageConfigs;

  constructor(
    private readonly ctx: AgentContext,
    private readonly teardown: Teardown,
    private readonly adoption: Adoption,
    private readonly starter: SessionStarter,
    /** The host's CPUs (for a kernel's CPU share), counted once when the agent is built. */
    private readonly hostCpus: number,
  ) {
    this.barrier = new StartBarrier(ctx);
    this.images = new ImageConfigs(ctx.docker);
  }

  async runSession(job: RunSessionJob, again = false): Promise<void> {
    const { sessions, engine, allocator, reports, config, log, closing } = this.ctx;
    if (sessions.isFinished(job.sessionId, job.attempt)) return;
    await engine.whenUp(); // the job waits for an engine that restarts, rather than failing
    // Two reads that do not depend on each other, asked together (they were round trips in a
    // row on the way to the create). Whether the manager gave the attempt up (superseded) is
    // asked where it decides something: before anything is said about the attempt, and right
    // before its containers start (starter.ts), so a superseded attempt's command never runs.
    // Every container of the session, of any attempt: those of this attempt are adopted; none at
    // all lets its cleanup remove what it creates without listing again (Tracked.sole). A first
    // attempt of one kernel started at once is not listed: its one container is named for it
    // (containerName), so were it on the engine already (the job delivered again after a
    // restart), its create answers 409 and the engine is listed then (adoptNamed). That list
    // was a round trip on every session's way to its start.
    const unlisted = listsAtConflict(job);
    const listed = unlisted ? Promise.resolve([]) : this.listSession(job.sessionId);
    const inspected = this.images.get(job.image);
    // Awaited below unless the job ends first: their failures are not left unhandled.
    listed.catch(() => {});
    inspected.catch(() => {});
    const known = sessions.get(job.sessionId);
    if (known && known.attempt >= job.attempt) {
      if (await this.superseded(job)) return;
      await this.adoption.resync(known); // a duplicate or a reconciler's nudge: say again where it stands
      return;
    }
    const all = await listed;
    if (await this.adoptFound(job, all)) return;
    const tracked = newTracked(job.sessionId, job.attempt, job.batchTimeoutSec, 'preparing');
    tracked.requestId = job.requestId ?? null;
    tracked.singleKernel = job.kernels.length === 1;
    tracked.sole = all.length === 0; // unlisted: its create, if it succeeds, says the same
    const slog = sessionLog(this.ctx, tracked);
    slog.info('run-session received', { image: job.image, kernels: job.kernels.length });
    const need = job.kernels.reduce<Slots>((acc, k) => addSlots(acc, k.slots), {});
    const short = allocator.allocate(job.sessionId, need);
    if (short) {
      if (await this.superseded(job)) return;
      await reports.failed(
        job,
        'ERROR',
        'agent-capacity-exceeded',
        `Not enough ${short.slot} on ${config.id}.`,
      );
      return;
    }
    sessions.set(tracked);
    try {
      note(tracked, 'PREPARING');
      const seen = await inspected;
      const image = await this.imageOf(job, tracked, seen.config);
      if (!image) return;
      if (tracked.stopReason) return await this.teardown.abandon(tracked, tracked.stopReason);
      note(tracked, 'PREPARED');
      note(tracked, 'CREATING');
      try {
        await this.createContainers(job, tracked, need, image);
      } catch (err) {
        if (unlisted && nameTaken(err)) return await this.adoptNamed(job, tracked, err);
        // Removed from the engine since it was last seen here: looked at (and pulled) again.
        if (!seen.cached || !lacksImage(err) || tracked.containers.length > 0) throw err;
        // In the order of a first look: PREPARED and CREATING are noted again after it.
        this.images.forget(job.image);
        tracked.phases = tracked.phases.filter((p) => p.status !== 'PREPARED' && p.status !== 'CREATING');
        const again = await this.imageOf(job, tracked, (await this.images.get(job.image)).config);
        if (!again) return;
        if (tracked.stopReason) return await this.teardown.abandon(tracked, tracked.stopReason);
        note(tracked, 'PREPARED');
        note(tracked, 'CREATING');
        await this.createContainers(job, tracked, need, again);
      }
      if (tracked.stopReason) return await this.teardown.abandon(tracked, tracked.stopReason);
      tracked.state = 'created';
      const delay = job.startsAt === null ? 0 : job.startsAt - Date.now();
      if (delay > 2 || tracked.barrier) {
        // Not started now: nothing is said of an attempt the manager gave up.
        if (await this.teardown.isSuperseded(tracked.sessionId, tracked.attempt))
          return await this.teardown.dropSuperseded(tracked);
        // Waiting for its start time: say now that it is prepared (CREATING and before).
        await reports.flushPhases(tracked);
      }
      // Behind a barrier: started now, its command held until starts_at (starter.ts).
      if (tracked.barrier) await this.starter.hold(tracked);
      else if (delay > 2) this.starter.armStart(tracked, delay);
      else await this.starter.startSession(tracked); // asks whether it was superseded first
    } catch (err) {
      if (!again && !closing.aborted && !(err instanceof ImagePullFailed) && !(await this.engineAnswers())) {
        // The engine went away under the start: not Docker refusing the session. Once it is
        // back, clear what was made and start again (the attempt never ran its command).
        log.error('engine went away during a start; will start again', { sessionId: job.sessionId });
        await engine.whenUp();
        await this.teardown.discard(tracked, (removeErr) =>
          // Left for the re-run: its containers are found by label, or created under new names.
          log.error('removing a cut start failed', { sessionId: job.sessionId, err: String(removeErr) }),
        );
        if (closing.aborted) return;
        return this.runSession(job, true);
      }
      const pull = err instanceof ImagePullFailed;
      slog.error(pull ? 'image pull failed' : 'start failed', {
        err: err instanceof BaiError ? err.message : String(err),
      });
      await this.teardown.discard(tracked);
      if (await this.superseded(job)) return;
      await reports.failed(
        job,
        pull ? 'CANCELLED' : 'ERROR',
        pull ? 'image-pull-failed' : 'failed-to-start',
        err instanceof BaiError ? err.message : String(err),
      );
    }
  }

  /**
   * The image's config: `found` (the engine's answer), or pulled when the engine lacks it.
   * Null when the attempt was superseded before the pull (then dropped here).
   */
  private async imageOf(
    job: RunSessionJob,
    tracked: Tracked,
    found: ImageConfig | null,
  ): Promise<ImageConfig | null> {
    if (found) {
      this.ctx.metrics?.countImagePresent();
      return found;
    }
    // A pull is said (PULLING): not for an attempt the manager gave up.
    if (await this.teardown.isSuperseded(job.sessionId, job.attempt)) {
      await this.teardown.dropSuperseded(tracked);
      return null;
    }
    await this.pull(job, tracked);
    const image = (await this.images.get(job.image)).config;
    if (!image) throw new Error(`image ${job.image} is not on the engine after its pull`);
    return image;
  }

  /** Pulls the image, reporting its progress at most twice a second, and the last figures. */
  private async pull(job: RunSessionJob, tracked: Tracked): Promise<void> {
    const { docker, reports, log } = this.ctx;
    await reports.progress(tracked, 'PULLING');
    let lastSent = 0;
    let total = 0;
    const t0 = performance.now();
    const seconds = () => (performance.now() - t0) / 1000;
    const pulling = docker.pull(job.image, job.registryAuth, (p) => {
      const now = Date.now();
      total = p.total;
      if (now - lastSent < 500 || p.total === 0) return;
      lastSent = now;
      const data = {
        pull: { current: p.current, total: p.total, percent: Math.floor((p.current / p.total) * 100) },
      };
      reports.progress(tracked, 'PULLING', data, `${now}`).catch((err: unknown) =>
        // A lost figure is superseded by the next one and by the last.
        log.error('pull progress report failed', { sessionId: job.sessionId, err: String(err) }),
      );
    });
    try {
      await pulling;
    } catch (err) {
      this.ctx.metrics?.observePull('failed', seconds());
      throw err;
    }
    this.ctx.metrics?.observePull('pulled', seconds());
    sessionLog(this.ctx, tracked).info('image pulled', { image: job.image, seconds: seconds() });
    if (total > 0) {
      // The last figures: status_data keeps them once the session moves on.
      const done = { pull: { current: total, total, percent: 100 } };
      await reports.progress(tracked, 'PULLING', done, 'done');
    }
  }

  /**
   * Creates the session's containers (subs first). A session with a start time far enough
   * ahead is created behind a start barrier (src/domain/start-barrier.ts) when its image has
   * what the barrier needs; otherwise, or with `timed`, as its start timer will start it.
   */
  private async createContainers(
    job: RunSessionJob,
    tracked: Tracked,
    need: Slots,
    image: ImageConfig,
    timed = false,
  ): Promise<void> {
    const { docker, config } = this.ctx;
    if (job.kernels.length > 1) {
      tracked.network = clusterNetworkName(job.sessionId);
      await docker.createNetwork(tracked.network, networkLabels(job.sessionId, config.id));
    }
    const user = jobUser(image.labels, config.jobUser);
    const offset = config.usernsIdOffset;
    const binds = storageBinds(config.storageRoot, job.mounts, {
      uid: user.uid + offset,
      gid: user.gid + offset,
    });
    const kernels = creationOrder(job.kernels);
    const specs = kernels.map((k) =>
      kernelContainer({
        session: job,
        kernel: k,
        sessionSlots: need,
        agentId: config.id,
        user,
        binds,
        network: tracked.network,
        agent: config,
        hostCpus: this.hostCpus,
      }),
    );
    const barrier = !timed && wantsBarrier(job.startsAt, Date.now(), this.barrier.enabled);
    const held = barrier ? specs.map((s) => barrierCommand(image, s.cmd)) : [];
    if (barrier && job.startsAt !== null && held.every((h) => h !== null)) {
      tracked.barrier = { startsAt: job.startsAt, releasedAt: null };
    }
    for (const [i, k] of kernels.entries()) {
      let spec = specs[i]!;
      const h = held[i];
      if (tracked.barrier && h) {
        const bind = await this.barrier.prepare(k.kernelId, job.attempt);
        spec = {
          ...spec,
          entrypoint: h.entrypoint,
          cmd: h.cmd,
          binds: [...spec.binds, bind],
          labels: { ...spec.labels, [BARRIER_LABEL]: '1' },
        };
      }
      const containerId = await docker.createContainer(spec);
      tracked.containers.push({ kernelId: k.kernelId, containerId, role: k.clusterRole });
      if (tracked.barrier && i === 0 && !(await this.barrierFits(containerId, held))) {
        // No shell (or no program) to hold the command with: the timed start, as before.
        sessionLog(this.ctx, tracked).info('no /bin/sh in the image: started by a timer, not a barrier');
        await this.teardown.removeContainers(tracked);
        tracked.containers = [];
        tracked.barrier = null;
        return this.createContainers(job, tracked, need, image, true);
      }
    }
  }

  /** Whether the image (in a container created from it) has the paths every barrier needs. */
  private async barrierFits(containerId: string, held: ({ argv: string[] } | null)[]): Promise<boolean> {
    const paths = new Set(held.flatMap((h) => (h ? pathsTheBarrierNeeds(h.argv) : [])));
    for (const p of paths) if (!(await this.ctx.docker.pathExists(containerId, p))) return false;
    return true;
  }

  /** Every container of the session on the engine, of any attempt and agent. */
  private listSession(sessionId: string) {
    return this.ctx.docker.list([`${LABEL.session}=${sessionId}`]);
  }

  /**
   * The create of an unlisted job (listsAtConflict) found its container's name taken: the
   * attempt's container is there already, made by an earlier delivery of the job. What this
   * run noted is let go of (it created nothing), and the attempt is adopted as a listed job's
   * would have been. A name taken by a container that is not the attempt's is a failed start.
   */
  private async adoptNamed(job: RunSessionJob, tracked: Tracked, err: unknown): Promise<void> {
    await this.teardown.discard(tracked);
    if (!(await this.adoptFound(job, await this.listSession(job.sessionId)))) throw err;
    sessionLog(this.ctx, tracked).info('container there already: adopted');
  }

  /**
   * The attempt's containers among the session's `all`, made by an earlier delivery of the job:
   * adopted, its state said again (nothing, for an attempt the manager gave up). False when
   * there is none.
   */
  private async adoptFound(job: RunSessionJob, all: readonly ContainerSummary[]): Promise<boolean> {
    const found = all.filter((c) => c.labels[LABEL.attempt] === String(job.attempt));
    if (found.length === 0) return false;
    if (!(await this.superseded(job))) await this.adoption.adoptAndResync(found);
    return true;
  }

  /** Whether the manager gave the attempt up: then it is marked finished here. */
  private async superseded(job: RunSessionJob): Promise<boolean> {
    if (!(await this.teardown.isSuperseded(job.sessionId, job.attempt))) return false;
    this.ctx.sessions.markFinished(job.sessionId, job.attempt);
    return true;
  }

  /** Whether the engine answers a ping now. */
  private async engineAnswers(): Promise<boolean> {
    return this.ctx.docker.ping(5_000).then(
      () => true,
      () => false, // no answer within 5 s: that is the answer asked for
    );
  }
}

/** Whether a create failed because the container's name is taken (the engine's 409). */
function nameTaken(err: unknown): boolean {
  return statusOf(err) === 409;
}
