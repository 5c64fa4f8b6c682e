import type { Redis } from 'ioredis';
import { addGuarded, entryField, finishGuarded } from './guarded-stream.js';
import { cleanupSeenKey, cleanupStreamKey } from './names.js';
import type { CleanupSessionJob } from './payloads.js';

/**
 * The managers' cleanups to one agent (`cleanup-session`: the end is recorded, remove the
 * containers) as entries of a stream the agent alone reads: 1 command to send and ~3 to take
 * where a BullMQ job cost ~55. The run and destroy jobs stay BullMQ jobs on the agent's queue.
 * An entry is `{s: session id, a: attempt}`; the agent deletes it once done, so at its start
 * it reads the stream from the first entry: what is there was not done.
 */

/** How long a sent cleanup is remembered (a safety net: the agent's delete clears it). */
export const CLEANUP_SEEN_TTL_MS = 3600_000;

/** Sends a cleanup to the agent (in the group whose stream it reads): its entry id, or null if already waiting. */
export async function sendCleanup(
  redis: Redis,
  prefix: string,
  scalingGroup: string,
  agentId: string,
  job: CleanupSessionJob,
): Promise<string | null> {
  return addGuarded(
    redis,
    cleanupStreamKey(prefix, scalingGroup, agentId),
    cleanupSeenKey(prefix, scalingGroup, agentId, job.sessionId, job.attempt),
    CLEANUP_SEEN_TTL_MS,
    ['s', job.sessionId, 'a', String(job.attempt)],
  );
}

/** The agent's side: deletes done cleanups with their guards. */
export async function cleanupsDone(
  redis: Redis,
  prefix: string,
  scalingGroup: string,
  agentId: string,
  done: { entryId: string; job: CleanupSessionJob | null }[],
): Promise<void> {
  await finishGuarded(
    redis,
    cleanupStreamKey(prefix, scalingGroup, agentId),
    null,
    done.map((d) => d.entryId),
    done.flatMap((d) =>
      d.job ? [cleanupSeenKey(prefix, scalingGroup, agentId, d.job.sessionId, d.job.attempt)] : [],
    ),
  );
}

/** Reads one entry's fields back: the cleanup, or null when it is not one (deleted unread). */
export function parseCleanup(fields: string[] | null): CleanupSessionJob | null {
  const sessionId = entryField(fields, 's');
  const attempt = Number(entryField(fields, 'a'));
  if (!sessionId || !Number.isInteger(attempt) || attempt < 0) return null;
  return { sessionId, attempt };
}
