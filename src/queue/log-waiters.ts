import type { Redis } from 'ioredis';

/**
 * Blocking reads of live output copies (log-stream.ts) for the manager's followers: a reader
 * waits with `XREAD BLOCK` until its stream has an entry after its cursor, so a line the agent
 * copies reaches a follower in one Redis round trip, not at its next poll. A blocked XREAD
 * holds its connection, so each reader has one of its own, made for the wait and closed after
 * it (at most `max` at a time: beyond, `wait` answers at once and the follower paces itself).
 * A reader ends at its deadline, when its entry comes, when its signal aborts (the HTTP
 * client went away) or when close() runs (the manager stops): none outlives its request.
 */
export class LogWaiters {
  private readonly open = new Set<Redis>();
  private closed = false;

  /** Readers' connections are named `<prefix>:log-reader` (CLIENT LIST shows them). */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly max = 64,
  ) {}

  /** Readers blocked right now (each holds one Redis connection). */
  get active(): number {
    return this.open.size;
  }

  /**
   * Waits until stream `key` has an entry after `after` ('0' for any), `ms` pass, or `signal`
   * aborts. Resolves true when it did wait (whatever ended it), false when it could not (too
   * many readers, closing, Redis unreachable): the caller then should not ask again at once.
   */
  async wait(key: string, after: string, ms: number, signal: AbortSignal): Promise<boolean> {
    if (this.closed || signal.aborted || this.open.size >= this.max) return false;
    const conn = this.redis.duplicate({
      lazyConnect: true,
      enableReadyCheck: false,
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null, // one attempt: a reader is not worth reconnecting
      connectionName: `${this.prefix}:log-reader`,
    });
    // Expected: a cut connection (abort, close) rejects the blocked read; handled below.
    conn.on('error', () => {});
    this.open.add(conn);
    const release = () => conn.disconnect();
    signal.addEventListener('abort', release, { once: true });
    try {
      await conn.xread('BLOCK', Math.max(1, Math.round(ms)), 'STREAMS', key, after === '0' ? '0-0' : after);
      return true;
    } catch {
      // Cut by abort or close (the reader is no longer wanted), or Redis away: not waited.
      return signal.aborted || this.closed;
    } finally {
      signal.removeEventListener('abort', release);
      this.open.delete(conn);
      conn.disconnect();
    }
  }

  /** Releases every blocked reader (their requests answer at once) and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const conn of this.open) conn.disconnect();
  }
}
