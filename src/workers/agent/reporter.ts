import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { REPORTS_QUEUE } from '../../queue/names.js';
import type { Report } from '../../queue/payloads.js';

/**
 * The agent's side of the durable reports queue. Each report has an id derived from what it
 * says, so a report sent twice while the first is still queued is stored once; the manager's
 * handlers are idempotent for the rest.
 */
export class Reporter {
  private readonly queue: Queue;

  constructor(connection: Redis, prefix: string) {
    this.queue = new Queue(REPORTS_QUEUE, { connection, prefix });
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
