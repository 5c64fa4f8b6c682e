import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { reportsQueueName } from './names.js';

const STATES = ['wait', 'active', 'delayed', 'failed'] as const;

/**
 * The job counts of the agents' reports queues, for `GET /metrics` (read at scrape). A Queue
 * object per agent over the manager's own connection (a Queue given a connection neither
 * duplicates nor closes it).
 */
export class ReportsBacklog {
  private readonly queues = new Map<string, Queue>();

  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {}

  async counts(agentIds: string[]): Promise<Map<string, Record<string, number>>> {
    const out = new Map<string, Record<string, number>>();
    await Promise.all(
      agentIds.map(async (id) => {
        let q = this.queues.get(id);
        if (!q) {
          q = new Queue(reportsQueueName(id), { connection: this.connection, prefix: this.prefix });
          // Connection errors surface on the reads that fail (the scrape answers 500).
          q.on('error', () => {});
          this.queues.set(id, q);
        }
        out.set(id, await q.getJobCounts(...STATES));
      }),
    );
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
  }
}
