import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Redis lease for loops that must run on one manager at a time (dispatcher, reconciler).
 * Held by renewal; a manager that dies loses it after `ttlMs`. A lease taken or renewed is
 * known held for a quarter of `ttlMs` from before the call (Redis keeps it the whole `ttlMs`),
 * so loops that ask every few hundred milliseconds do not renew it each time.
 */
export class Lease {
  private readonly token = randomUUID();
  private heldUntil = 0;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes or renews the lease; true when this process holds it. */
  async acquire(): Promise<boolean> {
    const t0 = Date.now();
    if (t0 < this.heldUntil) return true;
    const res = await this.redis.eval(
      `local v = redis.call('GET', KEYS[1])
       if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
       if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
       return 0`,
      1,
      this.key,
      this.token,
      String(this.ttlMs),
    );
    this.heldUntil = res === 1 ? t0 + this.ttlMs / 4 : 0;
    return res === 1;
  }

  /** Runs `fn` if this process holds the lease (taken or renewed first); else nothing. */
  async run(fn: () => Promise<unknown>): Promise<void> {
    if (await this.acquire()) await fn();
  }

  async release(): Promise<void> {
    this.heldUntil = 0;
    await this.redis.eval(
      `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
      1,
      this.key,
      this.token,
    );
  }
}
