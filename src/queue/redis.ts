import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisConnectOptions extends RedisOptions {
  /** A CA certificate file (PEM) that the server's certificate must chain to (`rediss://`). */
  caFile?: string | null;
}

/**
 * A Redis connection for BullMQ and for bai's own keys. BullMQ workers need
 * maxRetriesPerRequest: null; reconnects go on forever so a Redis restart is survived.
 *
 * `url` is `redis://` or `rediss://` (TLS) with an optional `user:password@`, or, through
 * Sentinel, `redis+sentinel://[user:password@]host:port,host:port/master-name` (and
 * `rediss+sentinel://` for TLS to the data nodes and the sentinels). After a failover the old
 * primary answers writes with READONLY: the connection is then dropped and made again, to
 * whatever the sentinels name as primary, and the command re-sent.
 */
export function openRedis(url: string, opts: RedisConnectOptions = {}): Redis {
  const { caFile, ...rest } = opts;
  const base: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...rest,
  };
  const ca = caFile ? readFileSync(caFile, 'utf8') : undefined;
  const sentinel = parseSentinelUrl(url);
  if (sentinel) {
    const tls = sentinel.tls ? { ...(ca ? { ca } : {}) } : undefined;
    return new Redis({
      // Only through Sentinel: a reconnection then finds the new primary. With a fixed address
      // it would find the same replica again, and a command would be re-sent forever.
      reconnectOnError: (err) => (err.message.startsWith('READONLY') ? 2 : false),
      ...base,
      sentinels: sentinel.sentinels,
      name: sentinel.name,
      ...(sentinel.username ? { username: sentinel.username } : {}),
      ...(sentinel.password ? { password: sentinel.password } : {}),
      ...(sentinel.sentinelPassword ? { sentinelPassword: sentinel.sentinelPassword } : {}),
      ...(sentinel.sentinelUsername ? { sentinelUsername: sentinel.sentinelUsername } : {}),
      ...(tls ? { tls, sentinelTLS: tls, enableTLSForSentinelMode: true } : {}),
      ...(sentinel.db ? { db: sentinel.db } : {}),
    });
  }
  if (url.startsWith('rediss://')) return new Redis(url, { ...base, tls: { ...(ca ? { ca } : {}) } });
  return new Redis(url, base);
}

export interface SentinelTarget {
  tls: boolean;
  sentinels: { host: string; port: number }[];
  name: string;
  username: string | null;
  password: string | null;
  sentinelUsername: string | null;
  sentinelPassword: string | null;
  db: number;
}

/**
 * Parses `redis+sentinel://[user:pass@]h1:26379,h2:26379/mymaster[/db][?sentinelPassword=…]`;
 * null for any other scheme.
 */
export function parseSentinelUrl(url: string): SentinelTarget | null {
  const m =
    /^(rediss?)\+sentinel:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?]+)\/([^/?]+)(?:\/(\d+))?(?:\?(.*))?$/.exec(
      url,
    );
  if (!m) {
    if (/^rediss?\+sentinel:/.test(url))
      throw new Error(
        `A Sentinel Redis URL is rediss?+sentinel://[user:password@]host:port,host:port/master-name (got "${url}").`,
      );
    return null;
  }
  const [, scheme, user, pass, hosts, name, db, query] = m;
  const params = new URLSearchParams(query ?? '');
  const sentinels = hosts!.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    const host = i > 0 ? hp.slice(0, i) : hp;
    const port = i > 0 ? Number(hp.slice(i + 1)) : 26379;
    if (!host || !Number.isInteger(port)) throw new Error(`Bad sentinel address "${hp}" in ${url}.`);
    return { host: host.replace(/^\[|\]$/g, ''), port };
  });
  return {
    tls: scheme === 'rediss',
    sentinels,
    name: decodeURIComponent(name!),
    username: user ? decodeURIComponent(user) : null,
    password: pass ? decodeURIComponent(pass) : null,
    sentinelUsername: params.get('sentinelUsername'),
    sentinelPassword: params.get('sentinelPassword'),
    db: db ? Number(db) : 0,
  };
}
