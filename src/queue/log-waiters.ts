import type { Redis } from 'ioredis';

/** One follower's reader of live output copies: a Redis connection of its own for its lifetime. */
export interface LogReader {
  /** The reader's connection, also for reading pages between waits (nobody else uses it). */
  readonly redis: Redis;
  /**
   * Waits until stream `key` has an entry after `after` ('0' for any) or `ms` pass. Resolves
   * true when it did wait (whatever ended it), false when the reader was cut (its signal
   * aborted, the manager closes, Redis away): it is no use any more.
   */
  wait(key: string, after: string, ms: number): Promise<boolean>;
  /** Closes the connection (idempotent). */
  close(): void;
}

/**
 * Blocking reads of live output copies (log-stream.ts) for the manager's followers: a reader
 * waits with `XREAD BLOCK` until its stream has an entry after its cursor, so a line the agent
 * copies reaches a follower in one Redis round trip, not at its next poll. A blocked XREAD
 * holds its connection, so each reader has one of its own: made for one wait and closed after
 * it (`wait`, the `wait_ms` read), or held for a whole follow stream (`reader`, the
 * `follow=1` read). At most `max` are open at a time: beyond, `wait` answers at once and
 * `reader` gives none, and the follower paces itself. A reader ends at its deadline, when its
 * entry comes, when its signal aborts (the HTTP client went away) or when close() runs (the
 * manager stops): none outlives its request.
 */
export class LogWaiters {
  private readonly open = new Set<Redis>();
  private readonly stopping = new AbortController();

  /** Readers' connections are named `<prefix>:log-reader` (CLIENT LIST shows them). */
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly max = 64,
  ) {}

  /** Readers open right now (each holds one Redis connection). */
  get active(): number {
    return this.open.size;
  }

  /** Aborts when close() runs: follow streams end with it. */
  get closing(): AbortSignal {
    return this.stopping.signal;
  }

  /**
   * A reader held until `signal` aborts, close() runs or its own close(); null when none can
   * be had now (too many readers, closing).
   */
  reader(signal: AbortSignal): LogReader | null {
    const conn = this.connect(signal);
    if (!conn) return null;
    let cut = false;
    const close = () => {
      cut = true;
      signal.removeEventListener('abort', close);
      this.open.delete(conn);
      conn.disconnect();
    };
    signal.addEventListener('abort', close, { once: true });
    return {
      redis: conn,
      wait: async (key, after, ms) => {
        if (cut) return false;
        try {
          await this.xread(conn, key, after, ms);
          return true;
        } catch {
          // Cut by abort or close, or Redis away: this reader is done.
          close();
          return false;
        }
      },
      close,
    };
  }

  /**
   * Waits until stream `key` has an entry after `after` ('0' for any), `ms` pass, or `signal`
   * aborts. Resolves true when it did wait (whatever ended it), false when it could not (too
   * many readers, closing, Redis unreachable): the caller then should not ask again at once.
   */
  async wait(key: string, after: string, ms: number, signal: AbortSignal): Promise<boolean> {
    const conn = this.connect(signal);
    if (!conn) return false;
    const release = () => conn.disconnect();
    signal.addEventListener('abort', release, { once: true });
    try {
      await this.xread(conn, key, after, ms);
      return true;
    } catch {
      // Cut by abort or close (the reader is no longer wanted), or Redis away: not waited.
      return signal.aborted || this.stopping.signal.aborted;
    } finally {
      signal.removeEventListener('abort', release);
      this.open.delete(conn);
      conn.disconnect();
    }
  }

  /** Releases every reader (blocked requests answer at once, streams end) and refuses new ones. */
  close(): void {
    this.stopping.abort();
    for (const conn of this.open) conn.disconnect();
    this.open.clear();
  }

  /** A connection of the reader's own, counted in `open`; null past the cap or when closing. */
  private connect(signal: AbortSignal): Redis | null {
    if (this.stopping.signal.aborted || signal.aborted || this.open.size >= this.max) return null;
    const conn = this.redis.duplicate({
      lazyConnect: true,
      enableReadyCheck: false,
      enableOfflineQueue: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null, // one attempt: a reader is not worth reconnecting
      connectionName: `${this.prefix}:log-reader`,
    });
    // Expected: a cut connection (abort, close) rejects what it has pending; handled by callers.
    conn.on('error', () => {});
    this.open.add(conn);
    return conn;
  }

  private async xread(conn: Redis, key: string, after: string, ms: number): Promise<void> {
    await conn.xread('BLOCK', Math.max(1, Math.round(ms)), 'STREAMS', key, after === '0' ? '0-0' : after);
  }
}
