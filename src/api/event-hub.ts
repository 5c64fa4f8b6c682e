import type { Redis } from 'ioredis';
import type { Db } from '../persistence/db.js';
import type { SessionEventRow } from '../persistence/rows.js';
import { eventsChannel } from '../queue/names.js';

export type EventListener = (ev: SessionEventRow) => void;

const FORGET = 'forget-keypair:';

/** How long delivery waits at a hole in the event ids, to keep the usual order. */
const GAP_WAIT_MS = 150;
/** How long a skipped id is still looked for: a transaction that commits late is delivered late. */
const LATE_WINDOW_MS = 60_000;
const LATE_MAX = 2_000;

/**
 * Tails the session_events table (the durable log) and hands new events to listeners (SSE
 * streams, create requests waiting for RUNNING). Ids are delivered in order: a hole in the ids
 * (a transaction not yet committed, or one rolled back) holds delivery back for a moment; past
 * that the hole is skipped but its ids are watched for a minute, and an event that commits late
 * is delivered late rather than never. Managers wake each other through Redis pub/sub; a slow
 * poll covers lost wake-ups.
 */
export class EventHub {
  private last = 0;
  private gapSince: number | null = null;
  /** Skipped ids, with when they were skipped. */
  private readonly late = new Map<number, number>();
  private readonly listeners = new Set<EventListener>();
  private readonly forgetters = new Set<(accessKey: string) => void>();
  private polling: Promise<void> | null = null;
  private pollAgain = false;
  private timer: NodeJS.Timeout | null = null;
  private gapTimer: NodeJS.Timeout | null = null;
  private sub: Redis | null = null;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async start(): Promise<void> {
    const row = (await this.db('session_events').max('id as max').first()) as
      { max: number | null } | undefined;
    this.last = Number(row?.max ?? 0);
    this.sub = this.redis.duplicate();
    this.sub.on('error', () => {});
    await this.sub.subscribe(eventsChannel(this.prefix));
    if (this.closed) return;
    this.sub.on('message', (_channel: string, message: string) => {
      if (message.startsWith(FORGET)) {
        for (const f of this.forgetters) f(message.slice(FORGET.length));
      } else this.poll();
    });
    this.timer = setInterval(() => this.poll(), 500);
  }

  /** Everything up to this id has been delivered (or is known not to exist). */
  horizon(): number {
    return this.last;
  }

  /** Local commit: tail now, and wake the other managers. */
  notify(): void {
    this.poll();
    this.redis.publish(eventsChannel(this.prefix), '1').catch(() => {});
  }

  /**
   * Tells every manager (this one included) that a keypair changed, so their authenticators drop
   * it from their caches: a deactivation or revocation is effective everywhere at once.
   */
  keypairChanged(accessKey: string): void {
    for (const f of this.forgetters) f(accessKey);
    this.redis.publish(eventsChannel(this.prefix), `${FORGET}${accessKey}`).catch(() => {});
  }

  onKeypairChanged(f: (accessKey: string) => void): void {
    this.forgetters.add(f);
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private poll(): void {
    if (this.closed) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = this.tail()
      .catch(() => {})
      .finally(() => {
        this.polling = null;
        if (this.pollAgain) {
          this.pollAgain = false;
          this.poll();
        }
      });
  }

  private deliver(ev: SessionEventRow): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch {
        /* a listener's failure is its own */
      }
    }
  }

  /** Looks again for ids skipped at a hole; delivers the ones that committed meanwhile. */
  private async tailLate(): Promise<void> {
    if (this.late.size === 0) return;
    const now = Date.now();
    for (const [id, since] of this.late) if (now - since > LATE_WINDOW_MS) this.late.delete(id);
    const rows = (await this.db('session_events')
      .whereIn('id', [...this.late.keys()])
      .orderBy('id')) as SessionEventRow[];
    for (const ev of rows) {
      this.late.delete(ev.id);
      this.deliver(ev);
    }
  }

  private async tail(): Promise<void> {
    await this.tailLate();
    for (;;) {
      const rows = (await this.db('session_events')
        .where('id', '>', this.last)
        .orderBy('id')
        .limit(500)) as SessionEventRow[];
      let delivered = 0;
      for (const ev of rows) {
        if (ev.id !== this.last + 1) {
          const now = Date.now();
          if (this.gapSince === null) this.gapSince = now;
          if (now - this.gapSince < GAP_WAIT_MS) {
            if (!this.closed && !this.gapTimer)
              this.gapTimer = setTimeout(() => {
                this.gapTimer = null;
                this.poll();
              }, 100);
            return;
          }
        }
        const now = Date.now();
        for (let id = this.last + 1; id < ev.id && this.late.size < LATE_MAX; id++) this.late.set(id, now);
        this.gapSince = null;
        this.last = ev.id;
        delivered += 1;
        this.deliver(ev);
      }
      if (delivered < 500) return;
    }
  }

  /** Stops tailing; a tail under way ends first, and no timer is left behind. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
    this.forgetters.clear();
    await this.polling;
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = null;
    await this.sub?.quit().catch(() => {});
  }
}
