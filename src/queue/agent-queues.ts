import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { agentQueueName, runJobId } from './names.js';
import { UnknownAgent } from '../domain/errors.js';
import type { CleanupSessionJob, DestroySessionJob, RunSessionJob } from './payloads.js';

/** The scaling group an agent is registered in (null: no such agent). */
export type GroupOf = (agentId: string) => Promise<string | null>;

/** How long an agent's scaling group is remembered: an agent restarted in another group is
 * followed within this, and the reconciler re-sends what went to its old queue meanwhile. */
const GROUP_TTL_MS = 10_000;

/**
 * The manager's side of the per-agent queues, named after the agent's scaling group and id
 * (agentQueueName). Job ids derive from session and attempt, so enqueuing twice is a no-op while
 * the first is pending, and a re-enqueue after it completed is harmless because the agent
 * recognises its own containers.
 */
export class AgentQueues {
  private readonly queues = new Map<string, Queue>();
  private readonly groups = new Map<string, { group: string; until: number }>();

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly groupOf: GroupOf,
  ) {}

  private async queue(agentId: string): Promise<Queue> {
    let known = this.groups.get(agentId);
    if (!known || known.until < Date.now()) {
      const group = await this.groupOf(agentId);
      if (group === null) throw new UnknownAgent(agentId);
      known = { group, until: Date.now() + GROUP_TTL_MS };
      this.groups.set(agentId, known);
    }
    const name = agentQueueName(known.group, agentId);
    let q = this.queues.get(name);
    if (!q) {
      q = new Queue(name, { connection: this.connection, prefix: this.prefix });
      // Connection errors surface on the calls that fail; unhandled they would only be printed.
      q.on('error', () => {});
      this.queues.set(name, q);
    }
    return q;
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

  async cleanup(agentId: string, job: CleanupSessionJob): Promise<void> {
    await (
      await this.queue(agentId)
    ).add('cleanup-session', job, {
      jobId: `cleanup-${job.sessionId}-${job.attempt}`,
      removeOnComplete: true,
      removeOnFail: true,
      attempts: 3,
      backoff: { type: 'exponential', delay: 1000 },
    });
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
    await Promise.allSettled([...this.queues.values()].map((q) => q.close()));
  }
}
