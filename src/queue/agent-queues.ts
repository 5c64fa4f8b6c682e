import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { sendCleanup } from './cleanup-stream.js';
import { agentQueueName, runJobId } from './names.js';
import { UnknownAgent } from '../domain/errors.js';
import type { CleanupSessionJob, DestroySessionJob, RunSessionJob } from './payloads.js';

/** The scaling group an agent is registered in (null: no such agent). */
export type GroupOf = (agentId: string) => Promise<string | null>;

/** How long an agent's scaling group is remembered: an agent restarted in another group is
 * followed within this, and the reconciler re-sends what went to its old queue meanwhile. */
const GROUP_TTL_MS = 10_000;

/** An agent's scaling group as last heard, or the read under way that will say it. */
interface KnownGroup {
  group: string | Promise<string | null>;
  until: number;
}

/**
 * The manager's side of the per-agent queues, named after the agent's scaling group and id
 * (agentQueueName). Job ids derive from session and attempt, so enqueuing twice is a no-op while
 * the first is pending, and a re-enqueue after it completed is harmless because the agent
 * recognises its own containers.
 *
 * The group is told by those who hear it (noteGroup: heartbeats, agent-started reports, the
 * dispatcher's read of the group's agents); `groupOf` (PostgreSQL) is asked only when nothing
 * was heard for GROUP_TTL_MS, once for all the callers waiting on it.
 */
export class AgentQueues {
  /** By agent id: the queue of its current group (`group` says which, as its name does). */
  private readonly queues = new Map<string, { queue: Queue; group: string }>();
  private readonly groups = new Map<string, KnownGroup>();

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly groupOf: GroupOf,
  ) {}

  /** `agentId` is in `group` now (its queue of another group, if any, is let go). */
  noteGroup(agentId: string, group: string): void {
    this.groups.set(agentId, { group, until: Date.now() + GROUP_TTL_MS });
    this.retireOtherThan(agentId, group);
  }

  private async groupOfAgent(agentId: string): Promise<string> {
    let known = this.groups.get(agentId);
    if (!known || known.until < Date.now()) {
      const read = this.groupOf(agentId);
      const entry: KnownGroup = { group: read, until: Date.now() + GROUP_TTL_MS };
      known = entry;
      this.groups.set(agentId, entry);
      // Settles the entry unless a noteGroup replaced it meanwhile; an unknown agent or a failed
      // read is not remembered (the next call asks again), and the failure reaches the callers.
      read.then(
        (group) => {
          if (this.groups.get(agentId) !== entry) return;
          if (group === null) this.groups.delete(agentId);
          else entry.group = group;
        },
        () => {
          if (this.groups.get(agentId) === entry) this.groups.delete(agentId);
        },
      );
    }
    const group = await known.group;
    if (group === null) throw new UnknownAgent(agentId);
    return group;
  }

  /** Closes the agent's queue if it is named after another group than `group`. */
  private retireOtherThan(agentId: string, group: string): void {
    const q = this.queues.get(agentId);
    if (!q || q.group === group) return;
    this.queues.delete(agentId);
    // The queue shares the manager's connection, which close() leaves open: it only detaches
    // the queue, and a failure there leaves nothing to undo.
    q.queue.close().catch(() => {});
  }

  private async queue(agentId: string): Promise<Queue> {
    const group = await this.groupOfAgent(agentId);
    this.retireOtherThan(agentId, group);
    const known = this.queues.get(agentId);
    if (known) return known.queue;
    const queue = new Queue(agentQueueName(group, agentId), {
      connection: this.connection,
      prefix: this.prefix,
    });
    // Connection errors surface on the calls that fail; unhandled they would only be printed.
    queue.on('error', () => {});
    this.queues.set(agentId, { queue, group });
    return queue;
  }

  async run(agentId: string, job: RunSessionJob): Promise<void> {
    await (
      await this.queue(agentId)
    ).add('run-session', job, {
      jobId: runJobId(job.sessionId, job.attempt),
      removeOnComplete: true,
      removeOnFail: true,
      attempts: 3,
      backoff: { type: 'exponential', delay: 500 },
    });
  }

  async destroy(agentId: string, job: DestroySessionJob): Promise<void> {
    await (
      await this.queue(agentId)
    ).add('destroy-session', job, {
      jobId: `destroy-${job.sessionId}-${Date.now()}`,
      removeOnComplete: true,
      removeOnFail: true,
      attempts: 3,
      priority: 1,
    });
  }

  /**
   * Cleanups go through the agent's cleanup stream (cleanup-stream.ts), not its BullMQ queue:
   * a few commands instead of a job's ~55. Sent again while undone, they are stored once.
   */
  async cleanup(agentId: string, job: CleanupSessionJob): Promise<void> {
    await sendCleanup(this.connection, this.prefix, await this.groupOfAgent(agentId), agentId, job);
  }

  /** Whether a run job for this session attempt is still waiting, delayed or active. */
  async hasPendingRun(agentId: string, sessionId: string, attempt: number): Promise<boolean> {
    const job = await (await this.queue(agentId)).getJob(runJobId(sessionId, attempt));
    if (!job) return false;
    const state = await job.getState();
    return state === 'waiting' || state === 'delayed' || state === 'active' || state === 'prioritized';
  }

  /** Drops a lost agent's queue: nothing in it will ever be taken. */
  async obliterate(agentId: string): Promise<void> {
    await (await this.queue(agentId)).obliterate({ force: true });
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.queues.values()].map((q) => q.queue.close()));
  }
}
