import type { Redis } from 'ioredis';
import { logMetaKey, logStreamKey } from './names.js';

/**
 * The live copy of a kernel's output in Redis: a stream `<prefix>:logs:<kernel>` of entries
 * `{d: text, o: byte offset of the text in the whole output}` and a hash
 * `<prefix>:logs:<kernel>:meta` with `total` (bytes appended in all) and `stored` (bytes the
 * stream holds). Appends trim the oldest entries so that the stream holds at most `maxBytes`
 * of text and `maxEntries` entries: the Redis memory of a session is bounded however much it
 * prints. Readers learn from the offsets what was dropped before they read it.
 */
export interface LogStreamLimits {
  maxBytes: number;
  maxEntries: number;
  ttlMs: number;
}

/** The largest entry an agent writes (its copier cuts larger chunks). */
export const LOG_ENTRY_BYTES = 64 * 1024;

const APPEND = `
local len = string.len(ARGV[1])
local total = redis.call('HINCRBY', KEYS[2], 'total', len)
if ARGV[5] == '1' then
  redis.call('XADD', KEYS[1], '*', 'd', ARGV[1], 'o', tostring(total - len), 'g', '1')
else
  redis.call('XADD', KEYS[1], '*', 'd', ARGV[1], 'o', tostring(total - len))
end
local stored = redis.call('HINCRBY', KEYS[2], 'stored', len)
local n = redis.call('XLEN', KEYS[1])
local maxBytes = tonumber(ARGV[2])
local maxEntries = tonumber(ARGV[3])
if stored > maxBytes or n > maxEntries then
  local from = '-'
  local last = nil
  while stored > maxBytes or n > maxEntries do
    local batch = redis.call('XRANGE', KEYS[1], from, '+', 'COUNT', 4)
    if #batch == 0 then break end
    for _, e in ipairs(batch) do
      if stored <= maxBytes and n <= maxEntries then break end
      local f = e[2]
      for i = 1, #f, 2 do
        if f[i] == 'd' then stored = stored - string.len(f[i + 1]) end
      end
      n = n - 1
      last = e[1]
    end
    from = '(' .. batch[#batch][1]
  end
  if last then
    local ms, seq = string.match(last, '(%d+)-(%d+)')
    redis.call('XTRIM', KEYS[1], 'MINID', ms .. '-' .. tostring(tonumber(seq) + 1))
  end
  if stored < 0 then stored = 0 end
  redis.call('HSET', KEYS[2], 'stored', stored)
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return total
`;

type WithAppend = Redis & {
  baiLogAppend(
    stream: string,
    meta: string,
    text: string,
    maxBytes: number,
    maxEntries: number,
    ttl: number,
    gap: '0' | '1',
  ): Promise<number>;
};

function withAppend(redis: Redis): WithAppend {
  const r = redis as WithAppend;
  if (typeof r.baiLogAppend !== 'function')
    redis.defineCommand('baiLogAppend', { numberOfKeys: 2, lua: APPEND });
  return r;
}

/**
 * Appends one entry (at most LOG_ENTRY_BYTES) and trims; resolves with the total appended.
 * `gap`: an unknown part of the output comes before this entry (the copy fell behind and
 * carries on from the stored tail).
 */
export async function appendLog(
  redis: Redis,
  prefix: string,
  agentId: string,
  kernelId: string,
  text: string,
  limits: LogStreamLimits,
  gap = false,
): Promise<number> {
  return withAppend(redis).baiLogAppend(
    logStreamKey(prefix, agentId, kernelId),
    logMetaKey(prefix, agentId, kernelId),
    text,
    limits.maxBytes,
    limits.maxEntries,
    limits.ttlMs,
    gap ? '1' : '0',
  );
}

/** Bytes appended to a kernel's live copy in all (0 when none, or when Redis lost it). */
export async function loggedBytes(
  redis: Redis,
  prefix: string,
  agentId: string,
  kernelId: string,
): Promise<number> {
  const v = await redis.hget(logMetaKey(prefix, agentId, kernelId), 'total');
  return v ? Number(v) : 0;
}

/** The id of the last entry (a restarted agent follows on from its time). */
export async function lastLogId(
  redis: Redis,
  prefix: string,
  agentId: string,
  kernelId: string,
): Promise<string | null> {
  const last = await redis.xrevrange(logStreamKey(prefix, agentId, kernelId), '+', '-', 'COUNT', 1);
  return last[0]?.[0] ?? null;
}

export interface LogPage {
  logs: string;
  cursor: string;
  more: boolean;
  /** Byte offset of `logs` in the whole output, when the entries carry it. */
  offset: number | null;
  /** An unknown part of the output was skipped before `logs`. */
  gap: boolean;
}

function fieldsOf(fields: string[]): { d: string; o: number | null; g: boolean } {
  let d = '';
  let o: number | null = null;
  let g = false;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'd') d = fields[i + 1] ?? '';
    else if (fields[i] === 'o') o = Number(fields[i + 1]);
    else if (fields[i] === 'g') g = true;
  }
  return { d, o, g };
}

/** The entries after `after` ('0' for the start), at most about `maxBytes` of them. */
export async function readLogPage(
  redis: Redis,
  prefix: string,
  agentId: string,
  kernelId: string,
  after: string,
  maxBytes: number,
): Promise<LogPage> {
  const key = logStreamKey(prefix, agentId, kernelId);
  let from = after === '' || after === '0' ? '-' : `(${after}`;
  const parts: string[] = [];
  let bytes = 0;
  let cursor = after;
  let offset: number | null = null;
  let gap = false;
  for (;;) {
    const entries = await redis.xrange(key, from, '+', 'COUNT', 256);
    for (const [id, fields] of entries) {
      const { d, o, g } = fieldsOf(fields);
      // A gap starts a page of its own, so a reader knows where it lies.
      if (g && (parts.length > 0 || gap)) return { logs: parts.join(''), cursor, more: true, offset, gap };
      if (g) gap = true;
      if (parts.length === 0) offset = o;
      parts.push(d);
      bytes += Buffer.byteLength(d);
      cursor = id;
      if (bytes >= maxBytes) {
        const rest = await redis.xrange(key, `(${id}`, '+', 'COUNT', 1);
        return { logs: parts.join(''), cursor, more: rest.length > 0, offset, gap };
      }
    }
    if (entries.length < 256) return { logs: parts.join(''), cursor, more: false, offset, gap };
    from = `(${cursor}`;
  }
}

/** The live copy ends with the same bytes as `tail` (compared over its last 4 KiB at most). */
export async function logEndsWith(
  redis: Redis,
  prefix: string,
  agentId: string,
  kernelId: string,
  tail: string,
): Promise<boolean> {
  const want = Buffer.from(tail, 'utf8');
  const k = Math.min(4096, want.length);
  if (k === 0) return true;
  const key = logStreamKey(prefix, agentId, kernelId);
  const parts: string[] = [];
  let bytes = 0;
  let to = '+';
  while (bytes < k) {
    const batch = await redis.xrevrange(key, to, '-', 'COUNT', 64);
    for (const [, f] of batch) {
      const d = fieldsOf(f).d;
      parts.unshift(d);
      bytes += Buffer.byteLength(d);
    }
    if (batch.length < 64) break;
    to = `(${batch.at(-1)![0]}`;
  }
  const have = Buffer.from(parts.join(''), 'utf8');
  return have.length >= k && have.subarray(have.length - k).equals(want.subarray(want.length - k));
}
