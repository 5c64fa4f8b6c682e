import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Redis lease for loops that must run on one manager at a time (dispatcher, reconciler).
 * Held by renewal; a manager that dies loses it after `ttlMs`. A lease taken or renewed is
 * known held for a quarter of `ttlMs` from before the call (Redis keeps it the whole `ttlMs`),
 * so loops that ask every few hundred milliseconds do not renew it each time.
 *
 * One command a call: a manager that does not hold it tries `SET NX` (taken, or held by
 * another); the holder renews with `GETEX … PX`, which sets the lifetime and says whose the
 * key is. Were it another's (this manager's lease ran out and another took it), the renewal
 * has only lengthened that fresh lease to a full `ttlMs` from now, once: this manager then
 * knows it lost the lease and asks with `SET NX` again. (A compare-and-renew script cost three
 * commands: EVAL, GET, PEXPIRE.)
 */
export class Lease {
  private readonly token = randomUUID();
  private heldUntil = 0;
  /** The last call found the lease this manager's: the next one renews rather than takes. */
  private holder = false;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes or renews the lease; true when this process holds it. */
  async acquire(): Promise<boolean> {
    const t0 = Date.now();
    if (t0 < this.heldUntil) return true;
    const ttl = String(this.ttlMs);
    let held: boolean;
    if (this.holder) {
      const v = await this.redis.getex(this.key, 'PX', ttl);
      // Gone (it ran out): taken again below, as by any manager.
      held = v === this.token || (v === null && (await this.take(ttl)));
    } else {
      held = await this.take(ttl);
    }
    this.holder = held;
    this.heldUntil = held ? t0 + this.ttlMs / 4 : 0;
    return held;
  }

  private async take(ttl: string): Promise<boolean> {
    return (await this.redis.set(this.key, this.token, 'PX', ttl, 'NX')) === 'OK';
  }

  /** Runs `fn` if this process holds the lease (taken or renewed first); else nothing. */
  async run(fn: () => Promise<unknown>): Promise<void> {
    if (await this.acquire()) await fn();
  }

  async release(): Promise<void> {
    this.heldUntil = 0;
    this.holder = false;
    await this.redis.eval(
      `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
      1,
      this.key,
      this.token,
    );
  }
}
