import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { heartbeatPattern, reportsQueueName } from '../../queue/names.js';
import type { Report } from '../../queue/payloads.js';
import type { Logger } from '../../log/logger.js';
import { REPORT_WORKER_OPTIONS } from './report-handler.js';

export interface ReportConsumersDeps {
  redis: Redis;
  prefix: string;
  log: Logger;
  /** Applies one report; `from` is the agent whose queue it came through. */
  handle(report: Report, from: string): Promise<unknown>;
}

/**
 * One BullMQ worker per agent, on that agent's own reports queue. The queue a report came
 * through is its sender's identity: with Redis ACL users per agent (agent-acl.ts), only that
 * agent can write it. Agents are found by their heartbeat keys (which, too, only they can
 * write), and at start from the agents PostgreSQL knows, so reports queued while no manager ran
 * are taken up. A worker costs one blocking Redis connection per agent and manager.
 */
export class ReportConsumers {
  private readonly workers = new Map<string, { worker: Worker; connection: Redis }>();
  private closed = false;

  constructor(private readonly deps: ReportConsumersDeps) {}

  /** Consumes the reports of `agentId` from now on (idempotent). */
  ensure(agentId: string): void {
    if (this.closed || this.workers.has(agentId)) return;
    const { redis, prefix, log } = this.deps;
    // BullMQ does not close a connection it was given: each worker gets its own, closed here.
    const connection = redis.duplicate();
    connection.on('error', () => {}); // the worker reports it
    const worker = new Worker(
      reportsQueueName(agentId),
      async (job) => this.deps.handle({ name: job.name, data: job.data } as Report, agentId),
      { connection, prefix, ...REPORT_WORKER_OPTIONS },
    );
    worker.on('error', (err) => log.error('report worker error', { agentId, err: String(err) }));
    worker.on('failed', (job, err) =>
      log.error('report failed', { agentId, name: job?.name, err: String(err) }),
    );
    this.workers.set(agentId, { worker, connection });
  }

  /** Looks for agents that sent a heartbeat and starts consuming their reports. */
  async discover(): Promise<void> {
    const { redis, prefix } = this.deps;
    const strip = `${prefix}:heartbeat:`.length;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', heartbeatPattern(prefix), 'COUNT', 1000);
      cursor = next;
      for (const k of keys) this.ensure(k.slice(strip));
    } while (cursor !== '0');
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      [...this.workers].map(async ([agentId, { worker, connection }]) => {
        try {
          await worker.close();
        } catch (err) {
          this.deps.log.error('report worker close failed', { agentId, err: String(err) });
        }
        // QUIT fails on a connection already broken: it is closed without the goodbye.
        await connection.quit().catch(() => connection.disconnect());
      }),
    );
  }
}
