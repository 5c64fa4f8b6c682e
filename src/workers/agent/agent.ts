import type { Logger } from '../../log/logger.js';
import { cpus } from 'node:os';
import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AgentConfig } from '../../config/config.js';
import { LABEL, WORK_DIR, kernelCommand, kernelEnvironment } from '../../domain/container-plan.js';
import { BaiError } from '../../domain/errors.js';
import { addSlots, type Slots } from '../../domain/resources.js';
import { TIMEOUT_EXIT_CODE, endedByTimeout } from '../../domain/batch-result.js';
import {
  DockerAdapter,
  ImagePullFailed,
  type ContainerState,
  type ContainerSummary,
} from '../../docker/docker-adapter.js';
import { dockerLogOptions, truncationMarker } from '../../domain/output-tail.js';
import { lastLogId, logEndsWith, loggedBytes, type LogStreamLimits } from '../../queue/log-stream.js';
import { agentQueueName, heartbeatKey, supersededKey } from '../../queue/names.js';
import type {
  CleanupSessionJob,
  DestroySessionJob,
  Heartbeat,
  ProgressStatus,
  RunSessionJob,
} from '../../queue/payloads.js';
import { Allocator } from './allocator.js';
import { EngineMonitor } from './engine-monitor.js';
import { jobUser } from '../../domain/job-user.js';
import { LogCopier, endWithTail } from './log-copier.js';
import { storageBinds } from './mounts.js';
import { Reporter } from './reporter.js';
import { clearLongTimeout, setLongTimeout, type LongTimeout } from '../long-timer.js';

export const AGENT_VERSION = '0.1.0';

interface Tracked {
  sessionId: string;
  attempt: number;
  containers: { kernelId: string; containerId: string; role: 'main' | 'sub' }[];
  network: string | null;
  state: 'preparing' | 'created' | 'running' | 'exited';
  startTimer: LongTimeout | null;
  timeoutTimer: LongTimeout | null;
  batchTimeoutSec: number | null;
  timedOut: boolean;
  stopReason: string | null;
  /**
   * A kill or stop asked (timeout, destroy) that has not reached the engine yet: applied when
   * the engine answers again.
   */
  pendingStop: 'kill' | 'stop' | null;
  /** Cuts the current Docker wait (engine gone, or re-read after its return). */
  waitAbort: AbortController | null;
  stopLogs: (() => void) | null;
  /** The live copy of the main's output, while it runs. */
  copier: LogCopier | null;
  /** Quick phases entered but not yet reported: they go with the next report. */
  phases: { status: ProgressStatus; at: number }[];
}

/**
 * One agent: joins a scaling group, consumes its own queue, drives its Docker engine. A BullMQ
 * job covers only claim, pull, create and start; the running container is tracked here through
 * Docker's wait, so a run of hours never depends on a job lock.
 */
export class Agent {
  private readonly sessions = new Map<string, Tracked>();
  /**
   * Attempts this agent ran and cleaned up. A run job the reconciler re-sent just before the
   * manager recorded the exit can arrive after the cleanup: it must not run the command again.
   */
  private readonly finished = new Set<string>();
  private readonly allocator: Allocator;
  private readonly reporter: Reporter;
  private readonly engine: EngineMonitor;
  private worker: Worker | null = null;
  private workerConnection: Redis | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private draining = false;
  private closed = false;
  /** Aborts the Docker waits on close: the containers run on, the agent process may exit. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly config: AgentConfig,
    private readonly docker: DockerAdapter,
    private readonly redis: Redis,
    private readonly log: Logger,
  ) {
    this.allocator = new Allocator(config.slots);
    this.reporter = new Reporter(redis, config.queuePrefix, config.id);
    this.engine = new EngineMonitor(docker, config.id, Math.min(config.heartbeatMs, 2_000), log, {
      onDown: () => this.engineDown(),
      onUp: () => this.engineBack(),
      onDie: (id) => this.containerDied(id),
    });
  }

  async start(): Promise<void> {
    await this.docker.ping();
    await this.engine.start();
    await this.adopt();
    await this.heartbeat();
    await this.reporter.send(
      {
        name: 'agent-started',
        data: {
          agentId: this.config.id,
          scalingGroup: this.config.scalingGroup,
          slots: this.config.slots,
          version: AGENT_VERSION,
          addr: '',
        },
      },
      `agent-started.${this.config.id}.${Date.now()}`,
    );
    this.heartbeatTimer = setInterval(() => {
      this.heartbeat().catch((err) => this.log.error('heartbeat failed', { err: String(err) }));
    }, this.config.heartbeatMs);
    this.workerConnection = this.redis.duplicate(); // BullMQ does not close a connection it was given
    this.worker = new Worker(agentQueueName(this.config.id), (job) => this.process(job), {
      connection: this.workerConnection,
      prefix: this.config.queuePrefix,
      concurrency: this.config.concurrency,
      lockDuration: 120_000,
      maxStalledCount: 5,
    });
    this.worker.on('error', (err) => this.log.error('worker error', { err: String(err) }));
    this.log.info('agent started', {
      id: this.config.id,
      scalingGroup: this.config.scalingGroup,
      slots: this.config.slots,
    });
  }

  /**
   * Drain mode: finish what runs, take nothing new. The heartbeat says `draining`, so the
   * manager places no more sessions here. The worker keeps consuming: destroy and cleanup jobs
   * of running sessions must still arrive, and a run job placed in the instant before the
   * manager saw the drain is work already given to this agent, so it runs.
   */
  async drain(): Promise<void> {
    this.draining = true;
    await this.heartbeat();
  }

  /** Stops taking jobs; running containers stay for a later agent to re-adopt. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopping.abort();
    this.engine.close();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.clearTimers();
    const errors: unknown[] = [];
    await this.worker?.close().catch((e: unknown) => errors.push(e));
    this.clearTimers(); // a job that was under way may have armed a start or timeout timer since
    await this.workerConnection?.quit().catch((e: unknown) => errors.push(e));
    await this.reporter.close().catch((e: unknown) => errors.push(e));
    if (errors.length > 0) this.log.error('agent close', { errors: errors.map(String) });
  }

  private clearTimers(): void {
    for (const t of this.sessions.values()) {
      clearLongTimeout(t.startTimer);
      clearLongTimeout(t.timeoutTimer);
      t.startTimer = t.timeoutTimer = null;
      t.stopLogs?.();
    }
  }

  private async process(job: Job): Promise<void> {
    switch (job.name) {
      case 'run-session':
        return this.runSession(job.data as RunSessionJob);
      case 'destroy-session':
        return this.destroySession(job.data as DestroySessionJob);
      case 'cleanup-session':
        return this.cleanupSession(job.data as CleanupSessionJob);
      default:
        this.log.error('unknown job', { name: job.name });
    }
  }

  // ---- run ---------------------------------------------------------------------------------

  private async runSession(job: RunSessionJob, again = false): Promise<void> {
    if (this.finished.has(`${job.sessionId}:${job.attempt}`)) return;
    await this.engine.whenUp(); // the job waits for an engine that restarts, rather than failing
    if (await this.isSuperseded(job.sessionId, job.attempt)) {
      this.markFinished(job.sessionId, job.attempt);
      return;
    }
    const known = this.sessions.get(job.sessionId);
    if (known && known.attempt >= job.attempt) {
      await this.resync(known); // a duplicate or a reconciler's nudge: say again where it stands
      return;
    }
    const found = await this.docker.list([
      `${LABEL.session}=${job.sessionId}`,
      `${LABEL.attempt}=${job.attempt}`,
    ]);
    if (found.length > 0) {
      const t = await this.adoptSession(found);
      if (t) await this.resync(t);
      return;
    }
    const tracked: Tracked = {
      sessionId: job.sessionId,
      attempt: job.attempt,
      containers: [],
      network: null,
      state: 'preparing',
      startTimer: null,
      timeoutTimer: null,
      batchTimeoutSec: job.batchTimeoutSec,
      timedOut: false,
      stopReason: null,
      pendingStop: null,
      waitAbort: null,
      stopLogs: null,
      copier: null,
      phases: [],
    };
    const need = job.kernels.reduce<Slots>((acc, k) => addSlots(acc, k.slots), {});
    const short = this.allocator.allocate(job.sessionId, need);
    if (short) {
      await this.fail(
        job,
        'ERROR',
        'agent-capacity-exceeded',
        `Not enough ${short.slot} on ${this.config.id}.`,
      );
      return;
    }
    this.sessions.set(job.sessionId, tracked);
    try {
      note(tracked, 'PREPARING');
      if (!(await this.docker.hasImage(job.image))) {
        await this.progress(job, 'PULLING');
        let lastSent = 0;
        let total = 0;
        await this.docker.pull(job.image, job.registryAuth, (p) => {
          const now = Date.now();
          total = p.total;
          if (now - lastSent < 500 || p.total === 0) return;
          lastSent = now;
          const data = {
            pull: { current: p.current, total: p.total, percent: Math.floor((p.current / p.total) * 100) },
          };
          this.progress(job, 'PULLING', data, `${now}`).catch(() => {});
        });
        if (total > 0) {
          // The last figures: status_data keeps them once the session moves on.
          const done = { pull: { current: total, total, percent: 100 } };
          await this.progress(job, 'PULLING', done, 'done');
        }
      }
      if (tracked.stopReason)
        return await this.abandonTracked(tracked, tracked.stopReason ?? 'user-requested');
      note(tracked, 'PREPARED');
      note(tracked, 'CREATING');
      await this.createContainers(job, tracked, need);
      if (tracked.stopReason)
        return await this.abandonTracked(tracked, tracked.stopReason ?? 'user-requested');
      tracked.state = 'created';
      const delay = job.startsAt === null ? 0 : job.startsAt - Date.now();
      if (delay > 2) {
        // Waiting for its start time: say now that it is prepared (CREATING and before).
        await this.flushPhases(job, tracked);
        tracked.startTimer = setLongTimeout(() => {
          tracked.startTimer = null;
          this.startSession(tracked).catch((err) => this.log.error('start failed', { err: String(err) }));
        }, delay);
      } else {
        await this.startSession(tracked);
      }
    } catch (err) {
      if (!again && !this.closed && !(err instanceof ImagePullFailed) && !(await this.engineAnswers())) {
        // The engine went away under the start: not Docker refusing the session. Once it is
        // back, clear what was made and start again (the attempt never ran its command).
        this.log.error('engine went away during a start; will start again', { sessionId: job.sessionId });
        await this.engine.whenUp();
        await this.removeContainers(tracked).catch(() => {});
        this.allocator.release(job.sessionId);
        this.sessions.delete(job.sessionId);
        if (this.closed) return;
        return this.runSession(job, true);
      }
      const pull = err instanceof ImagePullFailed;
      await this.removeContainers(tracked);
      this.allocator.release(job.sessionId);
      this.sessions.delete(job.sessionId);
      await this.fail(
        job,
        pull ? 'CANCELLED' : 'ERROR',
        pull ? 'image-pull-failed' : 'failed-to-start',
        err instanceof BaiError ? err.message : String(err),
      );
    }
  }

  private async createContainers(job: RunSessionJob, tracked: Tracked, need: Slots): Promise<void> {
    const cluster = job.kernels.length > 1;
    const hosts = job.kernels.map((k) => k.hostname);
    if (cluster) {
      tracked.network = `bai-${job.sessionId}`;
      await this.docker.createNetwork(tracked.network, {
        [LABEL.managed]: 'true',
        [LABEL.session]: job.sessionId,
        [LABEL.agent]: this.config.id,
      });
    }
    const user = jobUser(await this.docker.imageLabels(job.image), this.config.jobUser);
    const offset = this.config.usernsIdOffset;
    const binds = storageBinds(this.config.storageRoot, job.mounts, {
      uid: user.uid + offset,
      gid: user.gid + offset,
    });
    const ordered = [...job.kernels].sort((a, b) =>
      a.clusterRole === b.clusterRole ? 0 : a.clusterRole === 'sub' ? -1 : 1,
    );
    for (const k of ordered) {
      const containerId = await this.docker.createContainer({
        // A later attempt may run on the same engine while a stale one is still there (two
        // agents on one host, an agent back after its grace window): names must not collide.
        name: job.attempt > 1 ? `bai-${k.kernelId}.${job.attempt}` : `bai-${k.kernelId}`,
        image: job.image,
        cmd: kernelCommand(k.clusterRole, job.startupCommand, job.bootstrapScript),
        env: kernelEnvironment({
          sessionId: job.sessionId,
          kernelId: k.kernelId,
          role: k.clusterRole,
          idx: k.clusterIdx,
          hostname: k.hostname,
          clusterSize: job.kernels.length,
          hosts,
          user: job.environ,
        }),
        labels: {
          [LABEL.managed]: 'true',
          [LABEL.session]: job.sessionId,
          [LABEL.kernel]: k.kernelId,
          [LABEL.agent]: this.config.id,
          [LABEL.attempt]: String(job.attempt),
          [LABEL.role]: k.clusterRole,
          [LABEL.startsAt]: job.startsAt === null ? '' : String(job.startsAt),
          [LABEL.batchTimeout]: job.batchTimeoutSec === null ? '' : String(job.batchTimeoutSec),
          'ai.bai.slots': JSON.stringify(k.clusterRole === 'main' ? need : {}),
        },
        workingDir: WORK_DIR,
        hostname: k.hostname,
        user: `${user.uid}:${user.gid}`,
        // HOME is the work dir: a fresh one the job's user owns (the image's may be root's),
        // unless a storage folder is mounted there itself.
        tmpfs: binds.some((bind) => bind.split(':')[1] === WORK_DIR)
          ? {}
          : { [WORK_DIR]: `rw,exec,nosuid,nodev,mode=0755,uid=${user.uid},gid=${user.gid}` },
        // Docker refuses a CPU quota above the host's cores; an agent may declare more than it has.
        nanoCpus: Math.min(k.slots.cpu ?? 1, cpus().length) * 1e9,
        memoryBytes: k.slots.mem ?? 256 * 1024 * 1024,
        pidsLimit: this.config.pidsLimit,
        shmBytes: job.resourceOpts.shmem ?? null,
        networkMode: tracked.network ?? this.config.networkMode,
        networkAliases: tracked.network ? [k.hostname] : [],
        binds,
        capAdd: ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID', 'KILL'],
        logOptions: dockerLogOptions(this.config.logLimitBytes, this.config.dockerLogMaxBytes),
      });
      tracked.containers.push({ kernelId: k.kernelId, containerId, role: k.clusterRole });
    }
  }

  private async startSession(tracked: Tracked): Promise<void> {
    if (tracked.stopReason || tracked.state !== 'created') return;
    if (await this.isSuperseded(tracked.sessionId, tracked.attempt)) {
      // A start timer that fired as this agent came back from an outage the manager gave up on.
      await this.dropSuperseded(tracked);
      return;
    }
    for (const c of tracked.containers.filter((c) => c.role === 'sub'))
      await this.docker.start(c.containerId);
    const main = mainOf(tracked);
    await this.docker.start(main.containerId);
    tracked.state = 'running';
    this.watch(tracked, Date.now());
    await this.sendProgress(tracked, 'RUNNING', { startedAt: new Date().toISOString() });
  }

  /** Tracks a running main container until it exits; arms the batch timeout. */
  private watch(tracked: Tracked, startedAtMs: number): void {
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
    this.followLogs(tracked, main.kernelId, main.containerId);
    const waitLoop = async (): Promise<void> => {
      for (;;) {
        await this.engine.whenUp();
        if (this.closed || tracked.state !== 'running') return;
        const ctl = new AbortController();
        tracked.waitAbort = ctl;
        const onClose = () => ctl.abort();
        this.stopping.signal.addEventListener('abort', onClose);
        try {
          await this.docker.wait(main.containerId, ctl.signal);
          return;
        } catch (err) {
          if (this.closed || tracked.state !== 'running') return;
          // Cut on purpose (engine away or re-read), or the connection broke: ask the engine
          // how the container stands before waiting again.
          const st = await this.docker.inspect(main.containerId).catch(() => undefined);
          if (st === null || (st && !st.running)) return;
          if (!ctl.signal.aborted) {
            this.log.error('wait failed; retrying', { err: String(err) });
            this.engine.suspect();
            await new Promise((r) => setTimeout(r, 1000));
          }
        } finally {
          this.stopping.signal.removeEventListener('abort', onClose);
          if (tracked.waitAbort === ctl) tracked.waitAbort = null;
        }
      }
    };
    waitLoop()
      .then(() => (this.closed || tracked.state !== 'running' ? undefined : this.onMainExit(tracked)))
      .catch((err) => this.log.error('exit handling failed', { err: String(err) }));
  }

  /**
   * Kills (timeout, forced destroy) or stops (destroy) a running main. When the engine does not
   * take it, the request is kept and applied as soon as the engine answers again.
   */
  private requestStop(tracked: Tracked, how: 'kill' | 'stop'): void {
    if (tracked.pendingStop !== 'kill') tracked.pendingStop = how;
    this.applyStop(tracked).catch((err: unknown) => {
      this.log.error('stop deferred until the engine answers', {
        sessionId: tracked.sessionId,
        err: String(err),
      });
      this.engine.suspect();
    });
  }

  private async applyStop(tracked: Tracked): Promise<void> {
    const how = tracked.pendingStop;
    if (!how || tracked.state !== 'running') return;
    const main = mainOf(tracked);
    if (how === 'kill') await this.docker.kill(main.containerId);
    else await this.docker.stop(main.containerId, this.config.stopGraceSeconds);
    if (tracked.pendingStop === how) tracked.pendingStop = null;
  }

  /** Whether the engine answers a ping now. */
  private async engineAnswers(): Promise<boolean> {
    return this.docker.ping(5_000).then(
      () => true,
      () => false,
    );
  }

  // ---- the engine going away and coming back ----------------------------------------------

  /** The engine is away: cut the waits and log streams that would hang on it. */
  private engineDown(): void {
    for (const t of this.sessions.values()) {
      t.waitAbort?.abort();
      t.stopLogs?.();
      t.stopLogs = null;
    }
  }

  /** A container of ours died (event stream): if it is a tracked main, settle it now. */
  private containerDied(containerId: string): void {
    for (const t of this.sessions.values()) {
      if (t.state === 'running' && mainOf(t).containerId === containerId) t.waitAbort?.abort();
    }
  }

  /**
   * The engine answers again (possibly restarted, its containers stopped or ended meanwhile):
   * re-read this agent's containers by label, as at start; report those that ended with the
   * exit code Docker recorded, apply the kills and stops asked while it was away, follow the
   * running ones again, and forget sessions whose containers are gone (nothing runs for them,
   * so they hold no slots; the manager ends them `container-lost`).
   */
  private async engineBack(): Promise<void> {
    const all = await this.docker.list([`${LABEL.managed}=true`, `${LABEL.agent}=${this.config.id}`]);
    const bySession = new Map<string, ContainerSummary[]>();
    for (const c of all) {
      const sid = c.labels[LABEL.session] ?? '';
      bySession.set(sid, [...(bySession.get(sid) ?? []), c]);
    }
    for (const t of [...this.sessions.values()]) {
      if (t.state === 'preparing') continue; // its run job sees the engine's answers itself
      const mine = (bySession.get(t.sessionId) ?? []).filter(
        (c) => Number(c.labels[LABEL.attempt] ?? '0') === t.attempt,
      );
      bySession.delete(t.sessionId);
      if (!mine.some((c) => c.labels[LABEL.role] === 'main')) {
        this.log.error('containers gone with the engine', { sessionId: t.sessionId });
        this.forget(t);
        continue;
      }
      if (t.state === 'running') {
        const main = mainOf(t);
        const st = await this.docker.inspect(main.containerId);
        if (st && !st.running) {
          t.waitAbort?.abort(); // the watcher sees it ended and reports
        } else {
          await this.applyStop(t);
          t.stopLogs?.();
          t.stopLogs = null;
          this.followLogs(t, main.kernelId, main.containerId);
          t.waitAbort?.abort(); // wait again on a fresh connection
        }
      } else if (t.state === 'created' && t.stopReason) {
        clearLongTimeout(t.startTimer);
        await this.abandonTracked(t, t.stopReason);
      } else if (t.state === 'created' && !t.startTimer) {
        await this.startSession(t); // its start time came while the engine was away
      } else if (t.state === 'exited') {
        await this.reportExit(t); // its report may have failed while the engine was away
      }
    }
    // Containers of this agent it does not track (created by a start cut by the outage).
    for (const group of bySession.values()) {
      const t = await this.adoptSession(group);
      if (t) await this.resync(t);
    }
  }

  /** Drops a session whose containers are gone: no timers, no slots, not in the heartbeat. */
  private forget(t: Tracked): void {
    clearLongTimeout(t.startTimer);
    clearLongTimeout(t.timeoutTimer);
    t.waitAbort?.abort();
    t.stopLogs?.();
    t.state = 'exited';
    this.allocator.release(t.sessionId);
    this.sessions.delete(t.sessionId);
  }

  /**
   * Copies output to its live Redis copy while it runs, for `logs --follow` and `bai run`
   * (bounded in bytes and entries, see log-stream.ts; the agent holds at most two entries).
   * After a restart it carries on from the stream's last entry (entry ids are milliseconds), so
   * what an earlier agent copied is not copied twice and what ran unobserved is not lost.
   */
  private followLogs(tracked: Tracked, kernelId: string, containerId: string): void {
    const prefix = this.config.queuePrefix;
    lastLogId(this.redis, prefix, this.config.id, kernelId)
      .then((last) => {
        const ms = last ? Number(last.split('-')[0]) : 0;
        return this.docker.followLogs(containerId, ms > 0 ? ms / 1000 : undefined);
      })
      .then((follow) => {
        const copier = new LogCopier(this.redis, prefix, this.config.id, kernelId, this.logLimits(), follow);
        if (this.closed || tracked.state === 'exited') {
          copier.stop(); // a closing agent must not be held open by a late stream
          return;
        }
        tracked.copier = copier;
        tracked.stopLogs = () => copier.stop();
      })
      .catch(() => {});
  }

  private logLimits(): LogStreamLimits {
    return {
      maxBytes: this.config.logStreamBytes,
      maxEntries: this.config.logStreamEntries,
      ttlMs: 3_600_000,
    };
  }

  /** The watcher saw the main exit: stop its timers and report, once. */
  private async onMainExit(tracked: Tracked): Promise<void> {
    if (tracked.state === 'exited') return;
    tracked.state = 'exited';
    if (tracked.timeoutTimer) clearLongTimeout(tracked.timeoutTimer);
    await this.reportExit(tracked);
  }

  /**
   * Reports how the main ended, from Docker's own record (exit code, OOM, times, logs). Safe
   * to repeat: the container stays until the manager's cleanup, and the report id is stable.
   */
  private async reportExit(tracked: Tracked): Promise<void> {
    if (await this.isSuperseded(tracked.sessionId, tracked.attempt)) {
      await this.dropSuperseded(tracked); // its result is not this session's any more
      return;
    }
    const main = mainOf(tracked);
    const st = await this.exitState(tracked, main.containerId);
    // The live copy first takes in the last lines (its stream ends with the container), then
    // the stored output is the engine's tail, read as a stream: memory stays at the limit.
    const drained = await tracked.copier?.drain(10_000);
    tracked.stopLogs?.();
    const limit = this.config.logLimitBytes;
    const tail = await this.docker.logTail(main.containerId, limit);
    const prefix = this.config.queuePrefix;
    // The engine's copy rotates (json-file max-size): the live copy's count says how much
    // there was in all. (It may count a few lines twice after an agent restart, so it is
    // believed only past the limit.)
    const copied = await loggedBytes(this.redis, prefix, this.config.id, main.kernelId).catch(() => 0);
    const truncated = tail.truncated || copied > limit;
    const totalBytes = truncated ? Math.max(tail.bytes, copied) : tail.bytes;
    // Docker's follow stream may end, or skip, before the last lines of a job that printed
    // faster than it could be read: then the live copy ends with the stored tail instead.
    const endsRight = await logEndsWith(this.redis, prefix, this.config.id, main.kernelId, tail.text).catch(
      () => true,
    );
    if (drained === false || !endsRight) {
      const gap = copied > 0 || tail.truncated;
      await endWithTail(
        this.redis,
        prefix,
        this.config.id,
        main.kernelId,
        tail.text,
        this.logLimits(),
        gap,
      ).catch(() => {});
    }
    const logs = truncated ? truncationMarker(limit) + tail.text : tail.text;
    for (const c of tracked.containers.filter((c) => c.role === 'sub')) await this.docker.kill(c.containerId);
    this.allocator.release(tracked.sessionId);
    const exitCode = tracked.timedOut ? TIMEOUT_EXIT_CODE : (st?.exitCode ?? -1);
    await this.reporter.send(
      {
        name: 'kernel-exited',
        data: {
          agentId: this.config.id,
          sessionId: tracked.sessionId,
          attempt: tracked.attempt,
          kernelId: main.kernelId,
          exitCode,
          timedOut: tracked.timedOut,
          oomKilled: st?.oomKilled ?? false,
          stoppedFor: tracked.stopReason,
          logs,
          logsTruncated: truncated,
          logsTotalBytes: totalBytes,
          startedAt: st?.startedAt ?? null,
          finishedAt: st?.finishedAt ?? Date.now(),
        },
      },
      `exit.${main.kernelId}.${tracked.attempt}`,
    );
  }

  /**
   * The main's final state. Docker learns of an OOM kill from a separate event that can arrive
   * after the exit (seen on cgroup v1 under load), so an unexplained SIGKILL (137, not ours) is
   * looked at again for a moment before it is reported as a plain failure.
   */
  private async exitState(tracked: Tracked, containerId: string): Promise<ContainerState | null> {
    let st = await this.docker.inspect(containerId);
    if (killedAtTimeout(tracked, st)) tracked.timedOut = true; // by an agent that died before reporting
    // The timer fired while the engine was away and the container had ended on its own: its
    // own exit is the truth.
    if (tracked.timedOut && st && !endedByTimeout(tracked.batchTimeoutSec, st)) tracked.timedOut = false;
    const unexplained = () =>
      st !== null && st.exitCode === 137 && !st.oomKilled && !tracked.timedOut && !tracked.stopReason;
    for (let i = 0; i < 20 && unexplained(); i++) {
      await new Promise((r) => setTimeout(r, 100));
      st = await this.docker.inspect(containerId);
    }
    return st;
  }

  // ---- destroy and cleanup -----------------------------------------------------------------

  private async destroySession(job: DestroySessionJob): Promise<void> {
    const tracked = this.sessions.get(job.sessionId);
    if (!tracked) {
      // Nothing here (never arrived, or already removed): say so, so the manager can end it.
      await this.reporter.send(
        {
          name: 'session-failed',
          data: {
            agentId: this.config.id,
            sessionId: job.sessionId,
            attempt: 0,
            status: 'CANCELLED',
            reason: job.reason,
            message: 'No container of this session runs on the agent.',
          },
        },
        `destroyed.${job.sessionId}`,
      );
      return;
    }
    tracked.stopReason = job.reason;
    if (tracked.state === 'running') {
      // The watcher reports the exit; with the engine away, the stop waits for its return.
      this.requestStop(tracked, job.forced ? 'kill' : 'stop');
      return;
    }
    if (tracked.state === 'created') {
      clearLongTimeout(tracked.startTimer);
      tracked.startTimer = null;
      if (!this.engine.isUp) return; // abandoned when the engine answers again (engineBack)
      await this.abandonTracked(tracked, job.reason);
    }
    // 'preparing': the run handler sees stopReason between steps and abandons.
  }

  private async abandonTracked(tracked: Tracked, reason: string): Promise<void> {
    await this.removeContainers(tracked);
    this.allocator.release(tracked.sessionId);
    this.sessions.delete(tracked.sessionId);
    this.markFinished(tracked.sessionId, tracked.attempt);
    await this.reporter.send(
      {
        name: 'session-failed',
        data: {
          agentId: this.config.id,
          sessionId: tracked.sessionId,
          attempt: tracked.attempt,
          status: 'CANCELLED',
          reason,
          message: 'Stopped before it started.',
        },
      },
      `abandoned.${tracked.sessionId}.${tracked.attempt}`,
    );
  }

  private async cleanupSession(job: CleanupSessionJob): Promise<void> {
    const current = this.sessions.get(job.sessionId);
    const tracked = current && current.attempt <= job.attempt ? current : undefined;
    if (tracked && tracked.state === 'running') {
      // The manager ended it (agent-lost, timeout) while it still runs here: stop it first.
      tracked.stopReason = tracked.stopReason ?? 'cleanup';
      await this.docker.kill(mainOf(tracked).containerId);
    }
    if (tracked?.startTimer) clearLongTimeout(tracked.startTimer);
    if (tracked?.timeoutTimer) clearLongTimeout(tracked.timeoutTimer);
    tracked?.stopLogs?.();
    // Only this agent's containers: a cleanup is sent to whichever agent reported on the session,
    // and another agent (on the same engine, or a forger) must not have the real one's removed.
    const found = await this.docker.list([
      `${LABEL.session}=${job.sessionId}`,
      `${LABEL.agent}=${this.config.id}`,
    ]);
    for (const c of found) {
      if (Number(c.labels[LABEL.attempt] ?? '0') <= job.attempt) await this.docker.remove(c.id);
    }
    if (!current || tracked) {
      this.markFinished(job.sessionId, tracked?.attempt ?? job.attempt);
      await this.docker.removeNetwork(`bai-${job.sessionId}`);
      this.allocator.release(job.sessionId);
      this.sessions.delete(job.sessionId);
    }
  }

  // ---- attempts the manager gave up on while this agent was out of reach ------------------

  private async isSuperseded(sessionId: string, attempt: number): Promise<boolean> {
    const key = supersededKey(this.config.queuePrefix, this.config.id);
    return (await this.redis.sismember(key, `${sessionId}:${attempt}`)) === 1;
  }

  /**
   * After each heartbeat: attempts the manager ended or placed again elsewhere while this
   * agent was silent past its grace window are stopped and removed at once, without a report
   * (the manager's cleanup jobs say the same; this does not wait for them).
   */
  private async stopSuperseded(): Promise<void> {
    if (this.sessions.size === 0) return;
    const gone = new Set(await this.redis.smembers(supersededKey(this.config.queuePrefix, this.config.id)));
    if (gone.size === 0) return;
    for (const t of [...this.sessions.values()]) {
      if (t.state !== 'preparing' && gone.has(`${t.sessionId}:${t.attempt}`)) await this.dropSuperseded(t);
    }
  }

  private async dropSuperseded(t: Tracked): Promise<void> {
    this.log.info('stopping a superseded attempt', { sessionId: t.sessionId, attempt: t.attempt });
    t.stopReason = t.stopReason ?? 'superseded';
    this.forget(t);
    this.markFinished(t.sessionId, t.attempt);
    await this.removeContainers(t);
  }

  private markFinished(sessionId: string, attempt: number): void {
    this.finished.add(`${sessionId}:${attempt}`);
    if (this.finished.size > 50_000) this.finished.delete(this.finished.values().next().value!);
  }

  private async removeContainers(tracked: Tracked): Promise<void> {
    for (const c of tracked.containers) await this.docker.remove(c.containerId);
    if (tracked.network) await this.docker.removeNetwork(tracked.network);
  }

  // ---- re-adoption -------------------------------------------------------------------------

  /** At start: find this agent's containers by label and carry on with them. */
  private async adopt(): Promise<void> {
    const all = await this.docker.list([`${LABEL.managed}=true`, `${LABEL.agent}=${this.config.id}`]);
    const bySession = new Map<string, ContainerSummary[]>();
    for (const c of all) {
      const sid = c.labels[LABEL.session] ?? '';
      bySession.set(sid, [...(bySession.get(sid) ?? []), c]);
    }
    for (const group of bySession.values()) {
      const t = await this.adoptSession(group);
      if (t) await this.resync(t);
    }
    // A cluster network left by a crash between its creation and its containers' has no owner.
    const nets = await this.docker.listNetworks([
      `${LABEL.managed}=true`,
      `${LABEL.agent}=${this.config.id}`,
    ]);
    for (const n of nets) {
      if (this.sessions.has(n.replace(/^bai-/, ''))) continue;
      await this.docker
        .removeNetwork(n)
        .catch((err: unknown) => this.log.error('orphan network', { network: n, err: String(err) }));
    }
  }

  private async adoptSession(found: ContainerSummary[]): Promise<Tracked | null> {
    const first = found[0];
    if (!first) return null;
    const sessionId = first.labels[LABEL.session] ?? '';
    const attempt = Number(first.labels[LABEL.attempt] ?? '1');
    const existing = this.sessions.get(sessionId);
    if (existing) return existing;
    const mainC = found.find((c) => c.labels[LABEL.role] === 'main');
    const tracked: Tracked = {
      sessionId,
      attempt,
      containers: found.map((c) => ({
        kernelId: c.labels[LABEL.kernel] ?? '',
        containerId: c.id,
        role: c.labels[LABEL.role] === 'sub' ? 'sub' : 'main',
      })),
      network: found.length > 1 ? `bai-${sessionId}` : null,
      state: 'created',
      startTimer: null,
      timeoutTimer: null,
      batchTimeoutSec: mainC?.labels[LABEL.batchTimeout] ? Number(mainC.labels[LABEL.batchTimeout]) : null,
      timedOut: false,
      stopReason: null,
      pendingStop: null,
      waitAbort: null,
      stopLogs: null,
      copier: null,
      phases: [],
    };
    this.sessions.set(sessionId, tracked);
    if (!mainC) {
      tracked.state = 'exited';
      return tracked;
    }
    try {
      this.allocator.adopt(sessionId, JSON.parse(mainC.labels['ai.bai.slots'] ?? '{}') as Slots);
    } catch {
      this.allocator.adopt(sessionId, {});
    }
    const st = await this.docker.inspect(mainC.id);
    if (st?.running) {
      tracked.state = 'running';
      this.watch(tracked, st.startedAt ?? Date.now());
    } else if (st && st.startedAt === null) {
      const startsAt = Number(mainC.labels[LABEL.startsAt] || '0');
      tracked.startTimer = setLongTimeout(
        () => {
          tracked.startTimer = null;
          this.startSession(tracked).catch((err) => this.log.error('start failed', { err: String(err) }));
        },
        Math.max(0, startsAt - Date.now()),
      );
    } else {
      tracked.state = 'exited';
      await this.reportExit(tracked); // ended while nobody watched: report its true exit code
    }
    return tracked;
  }

  /** Re-sends where a session stands: used after re-adoption and on a duplicate run job. */
  private async resync(t: Tracked): Promise<void> {
    if (t.state === 'running') await this.sendProgress(t, 'RUNNING', {});
    else if (t.state === 'exited') await this.reportExit(t);
  }

  // ---- reports -----------------------------------------------------------------------------

  private async progress(
    job: RunSessionJob,
    status: 'PREPARING' | 'PULLING' | 'PREPARED' | 'CREATING',
    data?: Record<string, unknown>,
    suffix = '',
  ): Promise<void> {
    const phases = this.sessions.get(job.sessionId)?.phases.splice(0) ?? [];
    await this.reporter.send(
      {
        name: 'session-progress',
        data: {
          agentId: this.config.id,
          sessionId: job.sessionId,
          attempt: job.attempt,
          status,
          ...(phases.length > 0 ? { phases } : {}),
          data,
          at: Date.now(),
        },
      },
      `progress.${job.sessionId}.${job.attempt}.${status}${suffix ? `.${suffix}` : ''}`,
    );
  }

  /** Reports the noted phases now: the last one as the status, the others before it. */
  private async flushPhases(job: RunSessionJob, tracked: Tracked): Promise<void> {
    const last = tracked.phases.pop();
    if (!last || last.status === 'RUNNING') return;
    await this.progress(job, last.status as 'PREPARING' | 'PULLING' | 'PREPARED' | 'CREATING');
  }

  private async sendProgress(t: Tracked, status: 'RUNNING', data: Record<string, unknown>): Promise<void> {
    await this.reporter.send(
      {
        name: 'session-progress',
        data: {
          agentId: this.config.id,
          sessionId: t.sessionId,
          attempt: t.attempt,
          status,
          ...(t.phases.length > 0 ? { phases: t.phases.splice(0) } : {}),
          data,
          containers: t.containers.map((c) => ({ kernelId: c.kernelId, containerId: c.containerId })),
          at: Date.now(),
        },
      },
      `progress.${t.sessionId}.${t.attempt}.${status}.${Date.now()}`,
    );
  }

  private async fail(
    job: RunSessionJob,
    status: 'CANCELLED' | 'ERROR',
    reason: string,
    message: string,
  ): Promise<void> {
    await this.reporter.send(
      {
        name: 'session-failed',
        data: {
          agentId: this.config.id,
          sessionId: job.sessionId,
          attempt: job.attempt,
          status,
          reason,
          message,
        },
      },
      `failed.${job.sessionId}.${job.attempt}`,
    );
  }

  private async heartbeat(): Promise<void> {
    const hb: Heartbeat = {
      agentId: this.config.id,
      scalingGroup: this.config.scalingGroup,
      at: Date.now(),
      slots: this.config.slots,
      occupied: this.allocator.occupied(),
      draining: this.draining,
      ...(this.engine.isUp ? {} : { engineDown: true }),
      sessions: [...this.sessions.values()]
        .filter((t) => t.state !== 'preparing')
        .map((t) => ({
          sessionId: t.sessionId,
          attempt: t.attempt,
          state: t.state === 'exited' ? 'exited' : t.state === 'running' ? 'running' : 'created',
        })),
    };
    await this.redis.set(
      heartbeatKey(this.config.queuePrefix, this.config.id),
      JSON.stringify(hb),
      'PX',
      120_000,
    );
    await this.stopSuperseded();
  }
}

/** A SIGKILL at or past the batch timeout: the agent's own timeout kill, seen after a restart. */
function killedAtTimeout(t: Tracked, st: ContainerState | null): boolean {
  if (t.batchTimeoutSec === null || t.stopReason !== null || !st) return false;
  if (st.exitCode !== 137 || st.oomKilled) return false;
  if (st.startedAt === null || st.finishedAt === null) return false;
  return st.finishedAt - st.startedAt >= t.batchTimeoutSec * 1000;
}

/** Records a quick phase; it is reported with the next report (see SessionProgressReport.phases). */
function note(t: Tracked, status: ProgressStatus): void {
  t.phases.push({ status, at: Date.now() });
}

function mainOf(t: Tracked): { kernelId: string; containerId: string } {
  const m = t.containers.find((c) => c.role === 'main') ?? t.containers[0];
  if (!m) throw new Error(`session ${t.sessionId} has no container`);
  return m;
}
