import type { Redis } from 'ioredis';
import { addGuarded, addGuardedUnlessMember, finishGuarded } from './guarded-stream.js';
import { reportSeenKey, reportStreamKey, supersededKey } from './names.js';
import type { Report } from './payloads.js';
import { entryFields, isNoGroup, REPORTS_GROUP } from './report-entry.js';

/**
 * The Redis side of the agents' reports streams: one stream per agent, written by that agent
 * only (its ACL user), read by the managers in one consumer group. A few commands a report
 * where a BullMQ job took ~55: XADD (with its dedup guard) by the agent, XREADGROUP (many
 * reports of many agents per call), and XACK + XDEL by the manager that applied it.
 */

/** How long a report id is remembered while its entry waits (a safety net: the ack clears it). */
export const SEEN_TTL_MS = 24 * 3600_000;

/** Appends a report to the agent's stream: its entry id, or null when the same id is still unapplied. */
export async function addReport(
  redis: Redis,
  prefix: string,
  agentId: string,
  report: Report,
  reportId: string,
): Promise<string | null> {
  return addGuarded(
    redis,
    reportStreamKey(prefix, agentId),
    reportSeenKey(prefix, agentId, reportId),
    SEEN_TTL_MS,
    entryFields(report, reportId),
  );
}

/**
 * As addReport, unless the manager gave the attempt up (`<session>:<attempt>` in the agent's
 * superseded set; see the reconciler): then nothing is sent and the answer is `'superseded'`.
 * The look and the send are one script.
 */
export async function addReportUnlessSuperseded(
  redis: Redis,
  prefix: string,
  agentId: string,
  report: Report,
  reportId: string,
  attempt: { sessionId: string; attempt: number },
): Promise<string | null | 'superseded'> {
  const r = await addGuardedUnlessMember(
    redis,
    reportStreamKey(prefix, agentId),
    reportSeenKey(prefix, agentId, reportId),
    SEEN_TTL_MS,
    entryFields(report, reportId),
    supersededKey(prefix, agentId),
    `${attempt.sessionId}:${attempt.attempt}`,
  );
  return r === 'member' ? 'superseded' : r;
}

/** Acknowledges and deletes applied entries of one agent's stream, with their report ids' guards. */
export async function ackReports(
  redis: Redis,
  prefix: string,
  agentId: string,
  done: { entryId: string; reportId: string }[],
): Promise<void> {
  await finishGuarded(
    redis,
    reportStreamKey(prefix, agentId),
    REPORTS_GROUP,
    done.map((d) => d.entryId),
    done.filter((d) => d.reportId).map((d) => reportSeenKey(prefix, agentId, d.reportId)),
  );
}

/**
 * Creates the managers' group on an agent's stream (and the stream), reading from its first
 * entry: reports sent while no manager ran, or before a flush took the group, are all read.
 */
export async function ensureReportsGroup(redis: Redis, prefix: string, agentId: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', reportStreamKey(prefix, agentId), REPORTS_GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!/BUSYGROUP/.test(String(err))) throw err;
  }
}

/**
 * Deletes the consumers of the managers' group on `stream` that have nothing pending and were
 * idle for `minIdleMs` (those of managers gone: each manager start is a new consumer), but
 * `keep` (the caller's own). One script, so no entry can become pending to a consumer between
 * the look and the delete (XGROUP DELCONSUMER drops a consumer's pending entries with it). A
 * live consumer deleted this way loses nothing: its next read makes it again. The number deleted.
 */
const PRUNE = `
local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(consumers) ~= 'table' or consumers.err then return 0 end
local n = 0
for _, c in ipairs(consumers) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f.name ~= ARGV[3] and tonumber(f.pending) == 0 and tonumber(f.idle) >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f.name)
    n = n + 1
  end
end
return n
`;

export async function pruneIdleConsumers(
  redis: Redis,
  stream: string,
  minIdleMs: number,
  keep: string,
): Promise<number> {
  return Number(await redis.eval(PRUNE, 1, stream, REPORTS_GROUP, String(minIdleMs), keep));
}

/**
 * What an agent's stream holds unapplied: `wait` not yet read by a manager, `active` read and
 * being applied, `failed` read more than once (its handling failed, or its manager died) and
 * waiting to be tried again. All 0 when the stream or group does not exist.
 */
export async function reportsBacklog(
  redis: Redis,
  prefix: string,
  agentId: string,
): Promise<{ wait: number; active: number; failed: number }> {
  const key = reportStreamKey(prefix, agentId);
  let groups: unknown[];
  try {
    groups = (await redis.xinfo('GROUPS', key)) as unknown[];
  } catch (err) {
    if (/no such key/i.test(String(err))) return { wait: 0, active: 0, failed: 0 };
    throw err;
  }
  const group = (groups as string[][]).find((g) => g[g.indexOf('name') + 1] === REPORTS_GROUP);
  if (!group) return { wait: await redis.xlen(key), active: 0, failed: 0 };
  const pending = Number(group[group.indexOf('pending') + 1] ?? 0);
  const lagRaw = group[group.indexOf('lag') + 1];
  // Entries are deleted once applied, so what the stream holds beyond the pending ones is unread.
  const wait = lagRaw === null || lagRaw === undefined ? (await redis.xlen(key)) - pending : Number(lagRaw);
  let failed = 0;
  if (pending > 0) {
    try {
      const rows = (await redis.xpending(key, REPORTS_GROUP, '-', '+', 1000)) as [
        string,
        string,
        number,
        number,
      ][];
      failed = rows.filter((r) => Number(r[3]) > 1).length;
    } catch (err) {
      if (!isNoGroup(err)) throw err;
    }
  }
  return { wait: Math.max(0, wait), active: pending - failed, failed };
}
