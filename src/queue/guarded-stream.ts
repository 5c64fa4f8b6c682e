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

/** ADD, unless ARGV[2] is a member of the set KEYS[3]: then -1, and nothing is stored. */
const ADD_UNLESS_MEMBER = `
if redis.call('SISMEMBER', KEYS[3], ARGV[2]) == 1 then return -1 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then
  return redis.call('XADD', KEYS[1], '*', unpack(ARGV, 3))
end
return false
`;

type WithScripts = Redis & {
  baiGuardedAdd(stream: string, guard: string, ttlMs: number, ...fields: string[]): Promise<string | null>;
  baiGuardedAddUnless(
    stream: string,
    guard: string,
    set: string,
    ttlMs: number,
    member: string,
    ...fields: string[]
  ): Promise<string | number | null>;
};

function withScripts(redis: Redis): WithScripts {
  const r = redis as WithScripts;
  if (typeof r.baiGuardedAdd !== 'function') {
    redis.defineCommand('baiGuardedAdd', { numberOfKeys: 2, lua: ADD });
    redis.defineCommand('baiGuardedAddUnless', { numberOfKeys: 3, lua: ADD_UNLESS_MEMBER });
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

/**
 * As addGuarded, in the same script, unless `member` is in the set `set`: then nothing is
 * stored and the answer is `'member'` (the agents' exit reports: not sent for an attempt the
 * manager gave up on, with no moment between the look and the send).
 */
export async function addGuardedUnlessMember(
  redis: Redis,
  stream: string,
  guard: string,
  ttlMs: number,
  fields: string[],
  set: string,
  member: string,
): Promise<string | null | 'member'> {
  const r = await withScripts(redis).baiGuardedAddUnless(stream, guard, set, ttlMs, member, ...fields);
  return r === -1 ? 'member' : (r as string | null);
}

/**
 * Deletes finished entries and their guards, and acknowledges them in `group` when given: one
 * pipeline of `DEL` (the guards), `XDEL`, `XACK`, in that order (a script doing the same cost one
 * command more). Not atomic, and needs not be: cut after the `DEL`, an entry stays and is
 * finished again (a send meanwhile stores it twice, and applying a report or a cleanup twice
 * changes nothing); cut after the `XDEL`, the entry is gone but pending, and the claim pass
 * acknowledges it (XAUTOCLAIM lists it as deleted). A guard left behind would instead hold a
 * new send back for its whole lifetime.
 */
export async function finishGuarded(
  redis: Redis,
  stream: string,
  group: string | null,
  entryIds: string[],
  guards: string[],
): Promise<void> {
  if (entryIds.length === 0) return;
  const p = redis.pipeline();
  if (guards.length > 0) p.del(...guards);
  p.xdel(stream, ...entryIds);
  if (group !== null) p.xack(stream, group, ...entryIds);
  const replies = (await p.exec()) ?? [];
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
}

/** The value of field `k` in a stream entry's field/value list (as XREAD* return it). */
export function entryField(fields: string[] | null, k: string): string | undefined {
  for (let i = 0; fields && i + 1 < fields.length; i += 2) if (fields[i] === k) return fields[i + 1];
  return undefined;
}
