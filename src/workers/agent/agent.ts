import { availableParallelism } from 'node:os';
import { archName } from '../../domain/session-request.js';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { AgentConfig } from '../../config/config.js';
import type { DockerAdapter } from '../../docker/docker-adapter.js';
import type { Logger } from '../../log/logger.js';
import type { AgentMetrics } from '../../metrics/agent-metrics.js';
import { agentQueueName } from '../../queue/names.js';
import { agentJobOf, type AgentJob } from '../../queue/payloads.js';
import type { AgentContext } from './agent-context.js';
import { Adoption } from './adoption.js';
import { AgentWorker } from './agent-worker.js';
import { Allocator } from './allocator.js';
import { DestroyAndCleanup } from './destroy-cleanup.js';
import { EngineMonitor } from './engine-monitor.js';
import { heartbeatOf, publishHeartbeat } from './heartbeat.js';
import { CleanupReader } from './cleanup-reader.js';
import { Reporter } from './reporter.js';
import { AgentReports } from './reports.js';
import { RunPipeline } from './run-pipeline.js';
import { SessionStarter } from './starter.js';
import { Teardown } from './teardown.js';
import { SessionTable, stopTimers } from './tracked.js';
import { Watcher } from './watcher.js';
import type { AgentActivity } from './idle-trim.js';

export const AGENT_VERSION = '0.1.0';

/** How long a closing agent waits for its held RUNNING reports to reach Redis. */
const HELD_FLUSH_MS = 2_000;

/**
 * One agent: joins a scaling group, consumes its own queue, drives its Docker engine. A BullMQ
 * job covers only claim, pull, create and start (run-pipeline.ts); the running container is
 * tracked through Docker's wait (watcher.ts), so a run of hours never depends on a job lock.
 * This class routes jobs and runs the agent's lifecycle: start (adoption, heartbeat, worker),
 * drain and close.
 */
export class Agent {
  private readonly ctx: AgentContext;
  private readonly sessions = new SessionTable();
  private readonly allocator: Allocator;
  private readonly reporter: Reporter;
  private cleanups: CleanupReader | null = null;
  private readonly engine: EngineMonitor;
  private readonly teardown: Teardown;
  private readonly watcher: Watcher;
  private readonly adoption: Adoption;
  private readonly pipeline: RunPipeline;
  private readonly starter: SessionStarter;
  private readonly ending: DestroyAndCleanup;
  private worker: AgentWorker | null = null;
  private workerConnection: Redis | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private draining = false;
  /** Aborted on close: the Docker waits end, the containers run on, the agent process may exit. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly config: AgentConfig,
    private readonly docker: DockerAdapter,
    private readonly redis: Redis,
    private readonly log: Logger,
    metrics?: AgentMetrics,
  ) {
    this.allocator = new Allocator(config.slots);
    this.reporter = new Reporter(redis, config.queuePrefix, config.id);
    this.engine = new EngineMonitor(docker, config.id, Math.min(config.heartbeatMs, 2_000), log, {
      onDown: () => this.watcher.engineDown(),
      onUp: () => this.adoption.engineBack(),
      onDie: (id) => this.watcher.containerDied(id),
    });
    this.ctx = {
      config,
      docker,
      redis,
      log,
      engine: this.engine,
      allocator: this.allocator,
      sessions: this.sessions,
      reports: new AgentReports(this.reporter, config.id, metrics),
      closing: this.stopping.signal,
      metrics,
    };
    this.teardown = new Teardown(this.ctx);
    this.watcher = new Watcher(this.ctx, this.teardown);
    this.starter = new SessionStarter(this.ctx, this.watcher, this.teardown);
    this.adoption = new Adoption(this.ctx, this.watcher, this.teardown, this.starter);
    this.pipeline = new RunPipeline(
      this.ctx,
      this.teardown,
      this.adoption,
      this.starter,
      availableParallelism(),
    );
    this.ending = new DestroyAndCleanup(this.ctx, this.watcher, this.teardown);
  }

  async start(): Promise<void> {
    await this.docker.ping();
    await this.engine.start();
    await this.adoption.adoptAll();
    await this.heartbeat();
    await this.ctx.reports.agentStarted(
      this.config.scalingGroup,
      this.config.slots,
      AGENT_VERSION,
      archName(process.arch),
    );
    this.heartbeatTimer = setInterval(() => {
      this.heartbeat().catch((err) => this.log.error('heartbeat failed', { err: String(err) }));
    }, this.config.heartbeatMs);
    this.workerConnection = this.redis.duplicate(); // BullMQ does not close a connection it was given
    // BullMQ's worker with two empty fetches fewer per job (agent-worker.ts).
    this.worker = new AgentWorker(
      agentQueueName(this.config.scalingGroup, this.config.id),
      (job) => this.process(job),
      {
        connection: this.workerConnection,
        prefix: this.config.queuePrefix,
        concurrency: this.config.concurrency,
        lockDuration: 120_000,
        maxStalledCount: 5,
        // Idle re-poll every 10 s (BullMQ's default 5 s): a job wakes the worker at once.
        drainDelay: 10,
      },
    );
    this.worker.on('error', (err) => this.log.error('worker error', { err: String(err) }));
    // Cleanups come through a stream of their own (cleanup-stream.ts); the queue's route for
    // `cleanup-session` jobs stays for those an older manager queued.
    this.cleanups = new CleanupReader({
      redis: this.redis,
      prefix: this.config.queuePrefix,
      scalingGroup: this.config.scalingGroup,
      agentId: this.config.id,
      log: this.log,
      cleanup: (job) => this.ending.cleanupSession(job),
    });
    this.cleanups.start();
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
    if (this.stopping.signal.aborted) return;
    this.stopping.abort();
    this.engine.close();
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.flushHeldReports();
    this.clearTimers();
    const errors: unknown[] = [];
    await this.worker?.close().catch((e: unknown) => errors.push(e));
    await this.cleanups?.close().catch((e: unknown) => errors.push(e));
    this.clearTimers(); // a job that was under way may have armed a start or timeout timer since
    await this.starter.close().catch((e: unknown) => errors.push(e));
    await this.workerConnection?.quit().catch((e: unknown) => errors.push(e));
    await this.reporter.close().catch((e: unknown) => errors.push(e));
    if (errors.length > 0) this.log.error('agent close', { errors: errors.map(String) });
  }

  /** Sessions live here now, and how many it took on since it started (idle-trim.ts). */
  activity(): AgentActivity {
    return { live: this.sessions.size, taken: this.sessions.taken };
  }

  /** Containers of sessions that run now (the metrics' gauge). */
  runningContainers(): number {
    return this.sessions
      .all()
      .filter((t) => t.state === 'running')
      .reduce((n, t) => n + t.containers.length, 0);
  }

  /**
   * RUNNING reports still held back (no exit will carry them now) are sent before the agent lets
   * go, for at most HELD_FLUSH_MS: with Redis away, a restarted agent's adoption says RUNNING.
   */
  private async flushHeldReports(): Promise<void> {
    const held = this.sessions.all().filter((t) => t.heldRunning);
    if (held.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const sent = Promise.all(held.map((t) => this.ctx.reports.flushHeldRunning(t)));
    const late = new Promise<void>((r) => (timer = setTimeout(r, HELD_FLUSH_MS)));
    await Promise.race([sent, late])
      .catch((err: unknown) => this.log.error('held RUNNING reports not sent', { err: String(err) }))
      .finally(() => clearTimeout(timer));
  }

  private clearTimers(): void {
    for (const t of this.sessions.all()) stopTimers(t);
  }

  private async process(job: Job): Promise<void> {
    const parsed = agentJobOf(job.name, job.data);
    if ('error' in parsed) {
      this.log.error(parsed.error === 'unknown-job' ? 'unknown job' : 'malformed job', {
        name: job.name,
        id: job.id,
      });
      return;
    }
    await this.route(parsed.job);
  }

  private async route(job: AgentJob): Promise<void> {
    switch (job.name) {
      case 'run-session':
        return this.pipeline.runSession(job.data);
      case 'destroy-session':
        return this.ending.destroySession(job.data);
      case 'cleanup-session':
        return this.ending.cleanupSession(job.data);
      default: {
        const never: never = job;
        throw new Error(`unrouted agent job ${JSON.stringify(never)}`);
      }
    }
  }

  private async heartbeat(): Promise<void> {
    const hb = heartbeatOf({
      agentId: this.config.id,
      scalingGroup: this.config.scalingGroup,
      slots: this.config.slots,
      occupied: this.allocator.occupied(),
      draining: this.draining,
      engineUp: this.engine.isUp,
      sessions: this.sessions.all(),
      at: Date.now(),
    });
    await publishHeartbeat(this.redis, this.config.queuePrefix, hb);
    await this.teardown.stopSuperseded();
  }
}
