import type { Redis } from 'ioredis';
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

/** Adds the entry unless the same cleanup is still undone (its guard key, set here). */
const ADD = `
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return redis.call('XADD', KEYS[1], '*', 's', ARGV[2], 'a', ARGV[3])
end
return false
`;

/** Deletes done entries and their guards. KEYS: the stream, then guards; ARGV: entry ids. */
const DONE = `
redis.call('XDEL', KEYS[1], unpack(ARGV))
if #KEYS > 1 then redis.call('DEL', unpack(KEYS, 2)) end
return #ARGV
`;

type WithScripts = Redis & {
  baiCleanupAdd(
    stream: string,
    seen: string,
    ttl: number,
    sessionId: string,
    attempt: number,
  ): Promise<string | null>;
  baiCleanupDone(numKeys: number, ...args: string[]): Promise<number>;
};

function withScripts(redis: Redis): WithScripts {
  const r = redis as WithScripts;
  if (typeof r.baiCleanupAdd !== 'function') {
    redis.defineCommand('baiCleanupAdd', { numberOfKeys: 2, lua: ADD });
    redis.defineCommand('baiCleanupDone', { lua: DONE });
  }
  return r;
}

/** Sends a cleanup to the agent (in the group whose stream it reads): its entry id, or null if already waiting. */
export async function sendCleanup(
  redis: Redis,
  prefix: string,
  scalingGroup: string,
  agentId: string,
  job: CleanupSessionJob,
): Promise<string | null> {
  return withScripts(redis).baiCleanupAdd(
    cleanupStreamKey(prefix, scalingGroup, agentId),
    cleanupSeenKey(prefix, scalingGroup, agentId, job.sessionId, job.attempt),
    CLEANUP_SEEN_TTL_MS,
    job.sessionId,
    job.attempt,
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
  if (done.length === 0) return;
  const keys = [
    cleanupStreamKey(prefix, scalingGroup, agentId),
    ...done.flatMap((d) =>
      d.job ? [cleanupSeenKey(prefix, scalingGroup, agentId, d.job.sessionId, d.job.attempt)] : [],
    ),
  ];
  await withScripts(redis).baiCleanupDone(keys.length, ...keys, ...done.map((d) => d.entryId));
}

/** Reads one entry's fields back: the cleanup, or null when it is not one (deleted unread). */
export function parseCleanup(fields: string[] | null): CleanupSessionJob | null {
  const get = (k: string): string | undefined => {
    for (let i = 0; fields && i + 1 < fields.length; i += 2) if (fields[i] === k) return fields[i + 1];
    return undefined;
  };
  const sessionId = get('s');
  const attempt = Number(get('a'));
  if (!sessionId || !Number.isInteger(attempt) || attempt < 0) return null;
  return { sessionId, attempt };
}
