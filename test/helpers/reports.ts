import type { Redis } from 'ioredis';
import { reportStreamKey, reportsPausedChannel, reportsPausedKey } from '../../src/queue/names.js';
import type { Report } from '../../src/queue/payloads.js';
import { addReport } from '../../src/queue/report-stream.js';

/**
 * Reports sent into an agent's reports stream as the agent would (or as whoever `redis` logs in
 * as), and what became of them: the managers delete an entry once they applied it.
 */
export async function sendReport(
  redis: Redis,
  prefix: string,
  agentId: string,
  report: Report,
  reportId: string,
): Promise<string> {
  const entryId = await addReport(redis, prefix, agentId, report, reportId);
  if (entryId === null) throw new Error(`report ${reportId} is already in the stream`);
  return entryId;
}

/** Whether the entry was applied (acknowledged and deleted by a manager). */
export async function reportApplied(
  redis: Redis,
  prefix: string,
  agentId: string,
  entryId: string,
): Promise<boolean> {
  const left = await redis.xrange(reportStreamKey(prefix, agentId), entryId, entryId);
  return left.length === 0;
}

/**
 * Holds every report unapplied until resumeReports (the managers read and wait). The message
 * makes the managers read the key at once (else their next claim pass, within 2.5 s, would).
 */
export async function pauseReports(redis: Redis, prefix: string): Promise<void> {
  await redis.set(reportsPausedKey(prefix), '1');
  await redis.publish(reportsPausedChannel(prefix), 'set');
}

export async function resumeReports(redis: Redis, prefix: string): Promise<void> {
  await redis.del(reportsPausedKey(prefix));
  await redis.publish(reportsPausedChannel(prefix), 'deleted');
}
