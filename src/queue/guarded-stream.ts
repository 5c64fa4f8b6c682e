import type { Redis } from 'ioredis';

/**
 * Streams whose entries are sent at most once while undone: the agents' reports
 * (report-stream.ts) and the managers' cleanups (cleanup-stream.ts). A send sets a guard key
 * (`SET NX` with a lifetime) and adds the entry only if the guard was not there; whoever
 * finishes an entry deletes it with its guard (acknowledging it first in a consumer group),
 * so the stream holds only what is undone and a send after that is a new entry.
 */

/** Adds ARGV[2..] as the entry's fields unless KEYS[2], the guard, exists: the entry id, or false. */
const ADD = `
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
end
return false
`;

/**
 * Finishes entries: KEYS the stream then guards; ARGV the group ('' for none: nothing to
 * acknowledge), then entry ids.
 */
const DONE = `
local ids = {}
for i = 2, #ARGV do ids[#ids + 1] = ARGV[i] end
if ARGV[1] ~= '' then redis.call('XACK', KEYS[1], ARGV[1], unpack(ids)) end
redis.call('XDEL', KEYS[1], unpack(ids))
if #KEYS > 1 then redis.call('DEL', unpack(KEYS, 2)) end
return #ids
`;

type WithScripts = Redis & {
  baiGuardedAdd(stream: string, guard: string, ttlMs: number, ...fields: string[]): Promise<string | null>;
  baiGuardedDone(numKeys: number, ...args: string[]): Promise<number>;
};

function withScripts(redis: Redis): WithScripts {
  const r = redis as WithScripts;
  if (typeof r.baiGuardedAdd !== 'function') {
    redis.defineCommand('baiGuardedAdd', { numberOfKeys: 2, lua: ADD });
    redis.defineCommand('baiGuardedDone', { lua: DONE });
  }
  return r;
}

/** Adds an entry of `fields` (name, value, …) unless `guard` says it is still undone. */
export function addGuarded(
  redis: Redis,
  stream: string,
  guard: string,
  ttlMs: number,
  fields: string[],
): Promise<string | null> {
  return withScripts(redis).baiGuardedAdd(stream, guard, ttlMs, ...fields);
}

/** Deletes finished entries and their guards, acknowledging them in `group` first when given. */
export async function finishGuarded(
  redis: Redis,
  stream: string,
  group: string | null,
  entryIds: string[],
  guards: string[],
): Promise<void> {
  if (entryIds.length === 0) return;
  await withScripts(redis).baiGuardedDone(1 + guards.length, stream, ...guards, group ?? '', ...entryIds);
}

/** The value of field `k` in a stream entry's field/value list (as XREAD* return it). */
export function entryField(fields: string[] | null, k: string): string | undefined {
  for (let i = 0; fields && i + 1 < fields.length; i += 2) if (fields[i] === k) return fields[i + 1];
  return undefined;
}
