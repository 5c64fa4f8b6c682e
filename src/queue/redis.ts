import { Redis, type RedisOptions } from 'ioredis';

/**
 * A Redis connection for BullMQ and for bai's own keys. BullMQ workers need
 * maxRetriesPerRequest: null; reconnects go on forever so a Redis restart is survived.
 */
export function openRedis(url: string, opts: RedisOptions = {}): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    ...opts,
  });
}
