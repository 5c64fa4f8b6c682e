import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { InvalidRequest } from '../domain/errors.js';
import { agentQueuePattern, heartbeatKey, logStreamKey, reportsQueueName, supersededKey } from './names.js';
import { parseSentinelUrl } from './redis.js';

/**
 * Redis ACL users, one per agent. An agent's user may touch only the keys of its own job queue,
 * its own reports stream, its heartbeat and its log streams: it cannot read another agent's jobs
 * (environment values, registry passwords), write another agent's reports, or list keys. The
 * manager keeps an admin connection (the default user, or one with every permission).
 */

/** Agent ids that can go into ACL key patterns as they are (no glob characters). */
const AGENT_ID = /^[A-Za-z0-9_.-]{1,100}$/;

export function checkAgentId(agentId: string): void {
  if (!AGENT_ID.test(agentId))
    throw new InvalidRequest(`An agent id is 1-100 of A-Z a-z 0-9 _ . - (got "${agentId}").`);
}

export function agentUserName(prefix: string, agentId: string): string {
  return `${prefix}-agent-${agentId}`;
}

/** The key patterns of one agent (exported for tests and docs). */
export function agentKeyPatterns(prefix: string, agentId: string): string[] {
  checkAgentId(agentId);
  return [
    `${prefix}:${agentQueuePattern(agentId)}:*`,
    `${prefix}:${reportsQueueName(agentId)}:*`,
    heartbeatKey(prefix, agentId),
    supersededKey(prefix, agentId),
    logStreamKey(prefix, agentId, '*'),
  ];
}

/**
 * `ACL SETUSER` arguments for an agent. Commands: reading and writing data, scripts (BullMQ is
 * Lua), transactions and blocking pops; not the dangerous or administrative ones (KEYS, FLUSH*,
 * CONFIG, DEBUG, CLIENT KILL…), not SCAN (it would list every key name), not pub/sub. INFO and
 * CLIENT SETNAME are what BullMQ asks at connect.
 */
export function agentAclRules(prefix: string, agentId: string, password: string): string[] {
  return [
    'reset',
    'on',
    `>${password}`,
    ...agentKeyPatterns(prefix, agentId).map((p) => `~${p}`),
    'resetchannels',
    '-@all',
    '+@read',
    '+@write',
    '+@scripting',
    '+@transaction',
    '+@blocking',
    '+@connection',
    '-@dangerous',
    '-@admin',
    '-@pubsub',
    '-scan',
    '-randomkey',
    '-function',
    '-script|flush',
    '-script|kill',
    '+info',
    '+client|setname',
    '+client|getname',
    '+client|id',
  ];
}

export interface AgentUser {
  username: string;
  password: string;
  /** Whether `ACL SAVE` wrote it to the server's ACL file (else it lives until a restart). */
  saved: boolean;
}

/**
 * Creates (or replaces, with a new password) the ACL user of an agent on one Redis server.
 * ACL users are not replicated: with replicas, run it against each of them too.
 */
export async function provisionAgentUser(
  admin: Redis,
  prefix: string,
  agentId: string,
  password = randomBytes(24).toString('base64url'),
): Promise<AgentUser> {
  const username = agentUserName(prefix, agentId);
  await admin.call('ACL', 'SETUSER', username, ...agentAclRules(prefix, agentId, password));
  let saved = true;
  try {
    await admin.call('ACL', 'SAVE');
  } catch {
    // Expected: ERR when Redis runs without an aclfile: the user lives until Redis restarts.
    saved = false;
  }
  return { username, password, saved };
}

export async function removeAgentUser(admin: Redis, prefix: string, agentId: string): Promise<boolean> {
  checkAgentId(agentId);
  const n = await admin.call('ACL', 'DELUSER', agentUserName(prefix, agentId));
  // Expected: ERR when Redis runs without an aclfile; the user is deleted in memory either way.
  await admin.call('ACL', 'SAVE').catch(() => {});
  return n === 1;
}

/** The manager's Redis URL with the agent's user and password in it: the agent's REDIS_URL. */
export function agentRedisUrl(adminUrl: string, user: AgentUser): string {
  const m = /^([a-z+]+:\/\/)(?:[^@/]*@)?(.*)$/.exec(adminUrl);
  if (!m) throw new InvalidRequest(`Not a Redis URL: "${adminUrl}".`);
  return `${m[1]}${encodeURIComponent(user.username)}:${encodeURIComponent(user.password)}@${m[2]}`;
}

/**
 * Every Redis server behind `url`, as a URL with the same credentials: the server itself, or,
 * through Sentinel, the current primary and the replicas the sentinels see up (ACL users are
 * not replicated, so each needs them). `skipped` lists replicas that are down.
 */
export async function redisServers(
  url: string,
  caFile: string | null,
): Promise<{ urls: string[]; skipped: string[] }> {
  const s = parseSentinelUrl(url);
  if (!s) return { urls: [url], skipped: [] };
  const cred =
    s.username || s.password
      ? `${encodeURIComponent(s.username ?? '')}${s.password ? `:${encodeURIComponent(s.password)}` : ''}@`
      : '';
  const tls = s.tls ? { ...(caFile ? { ca: readFileSync(caFile, 'utf8') } : {}) } : undefined;
  const errors: string[] = [];
  for (const sn of s.sentinels) {
    const conn = new Redis({
      host: sn.host,
      port: sn.port,
      ...(s.sentinelUsername ? { username: s.sentinelUsername } : {}),
      ...(s.sentinelPassword ? { password: s.sentinelPassword } : {}),
      ...(tls ? { tls } : {}),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    conn.on('error', () => {});
    try {
      await conn.connect();
      const master = (await conn.call('SENTINEL', 'get-master-addr-by-name', s.name)) as string[] | null;
      if (!master) throw new Error(`the sentinel does not know "${s.name}"`);
      const replicas = (await conn.call('SENTINEL', 'replicas', s.name)) as string[][];
      const field = (r: string[], k: string) => r[r.indexOf(k) + 1] ?? '';
      const addr = (ip: string, port: string) =>
        `${s.tls ? 'rediss' : 'redis'}://${cred}${ip}:${port}${s.db ? `/${s.db}` : ''}`;
      const up = replicas.filter((r) => !/s_down|o_down|disconnected/.test(field(r, 'flags')));
      const down = replicas.filter((r) => !up.includes(r));
      return {
        urls: [addr(master[0]!, master[1]!), ...up.map((r) => addr(field(r, 'ip'), field(r, 'port')))],
        skipped: down.map((r) => `${field(r, 'ip')}:${field(r, 'port')}`),
      };
    } catch (err) {
      errors.push(`${sn.host}:${sn.port}: ${String(err)}`);
    } finally {
      conn.disconnect();
    }
  }
  throw new Error(`No sentinel answered: ${errors.join('; ')}`);
}
