import type { Redis } from 'ioredis';
import type { Db } from '../persistence/db.js';
import type { SessionEventRow } from '../persistence/rows.js';
import { eventsChannel } from '../queue/names.js';

export type EventListener = (ev: SessionEventRow) => void;

const FORGET = 'forget-keypair:';

/** How long a hole in the event ids is waited for before it is taken as a rolled-back insert. */
const GAP_WAIT_MS = 1_000;

/**
 * Tails the session_events table (the durable log) and hands new events to listeners (SSE
 * streams, create requests waiting for RUNNING). Ids are delivered in order up to a "safe
 * horizon": a hole in the ids (a transaction not yet committed) holds delivery back briefly, so
 * no event is skipped because it committed late. Managers wake each other through Redis
 * pub/sub; a slow poll covers lost wake-ups.
 */
export class EventHub {
  private last = 0;
  private gapSince: number | null = null;
  private readonly listeners = new Set<EventListener>();
  private readonly forgetters = new Set<(accessKey: string) => void>();
  private polling = false;
  private pollAgain = false;
  private timer: NodeJS.Timeout | null = null;
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
    this.polling = true;
    this.tail()
      .catch(() => {})
      .finally(() => {
        this.polling = false;
        if (this.pollAgain) {
          this.pollAgain = false;
          this.poll();
        }
      });
  }

  private async tail(): Promise<void> {
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
            setTimeout(() => this.poll(), 100);
            return;
          }
        }
        this.gapSince = null;
        this.last = ev.id;
        delivered += 1;
        for (const l of this.listeners) {
          try {
            l(ev);
          } catch {
            /* a listener's failure is its own */
          }
        }
      }
      if (delivered < 500) return;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.listeners.clear();
    this.forgetters.clear();
    await this.sub?.quit().catch(() => {});
  }
}
