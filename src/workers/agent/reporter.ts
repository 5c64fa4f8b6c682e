import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { reportsQueueName } from '../../queue/names.js';
import type { Report } from '../../queue/payloads.js';

/**
 * The agent's side of its durable reports queue (`reports-<agent id>`, its own: the manager
 * takes the queue's agent as the sender). Each report has an id derived from what it
 * says, so a report sent twice while the first is still queued is stored once; the manager's
 * handlers are idempotent for the rest.
 */
export class Reporter {
  private readonly queue: Queue;

  constructor(connection: Redis, prefix: string, agentId: string) {
    this.queue = new Queue(reportsQueueName(agentId), { connection, prefix });
    // Connection errors surface on the calls that fail; unhandled they would only be printed.
    this.queue.on('error', () => {});
  }

  async send(report: Report, id: string): Promise<void> {
    await this.queue.add(report.name, report.data, {
      jobId: id,
      removeOnComplete: true,
      removeOnFail: 1000,
      attempts: 20,
      backoff: { type: 'exponential', delay: 200 },
    });
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}
