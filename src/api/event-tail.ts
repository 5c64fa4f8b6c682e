import type { Logger } from '../log/logger.js';
import { isDatabaseUnavailable } from '../persistence/db.js';
import type { EventLog } from '../persistence/event-store.js';
import type { SessionEventRow } from '../persistence/rows.js';

/** How long delivery waits at a hole in the event ids, to keep the usual order. */
const GAP_WAIT_MS = 150;
/** How long a skipped id is still looked for: a transaction that commits late is delivered late. */
const LATE_WINDOW_MS = 60_000;
const LATE_MAX = 2_000;
const PAGE = 500;

/** What the health endpoint shows of the tail. */
export interface TailState {
  /** False while reads of session_events fail (SSE streams and create waits do not advance). */
  ok: boolean;
  /** When the tail entered this state (started, failed, recovered), ISO-8601. */
  since: string;
  /** What the last failure was (`database-unavailable`, an error code or name); null if none. */
  lastError: string | null;
}

export interface TailOptions {
  /** First retry delay after a failure; doubled each failure in a row. */
  retryBaseMs?: number;
  /** Longest delay between retries. */
  retryMaxMs?: number;
}

/**
 * Reads session_events in id order and hands each event to `deliver`, once. A hole in the ids
 * (a transaction not yet committed, or rolled back) holds delivery back for a moment; past that
 * the hole is skipped but its ids are watched for a minute, so an event that commits late is
 * delivered late rather than never. A failed read is logged and retried with backoff; `state()`
 * says whether the tail is advancing.
 */
export class EventTail {
  private last = 0;
  private gapSince: number | null = null;
  /** Skipped ids, with when they were skipped. */
  private readonly late = new Map<number, number>();
  private polling: Promise<void> | null = null;
  private pollAgain = false;
  private gapTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  /** Failed reads in a row: the tail is ok while this is 0. */
  private failures = 0;
  /** When the tail entered its present state, and the last failure's kind. */
  private since = new Date().toISOString();
  private lastError: string | null = null;
  private closed = false;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;

  constructor(
    private readonly events: EventLog,
    private readonly deliver: (ev: SessionEventRow) => void,
    private readonly log: Logger,
    opts: TailOptions = {},
  ) {
    this.retryBaseMs = opts.retryBaseMs ?? 100;
    this.retryMaxMs = opts.retryMaxMs ?? 2_000;
  }

  /** Starts after the newest event: only what commits from now on is delivered. */
  async start(): Promise<void> {
    this.last = await this.events.maxId();
    this.failures = 0;
    this.since = new Date().toISOString();
    this.lastError = null;
  }

  /** Everything up to this id has been delivered (or is known not to exist). */
  horizon(): number {
    return this.last;
  }

  state(): TailState {
    return { ok: this.failures === 0, since: this.since, lastError: this.lastError };
  }

  /**
   * Events a commit here wrote and returned (ids ascending): handed out at once when they are
   * the next ids after the horizon, with no hole among them, as a read would hand them out;
   * true then. Otherwise nothing is done (false): the caller reads as usual. A read under way
   * that meanwhile finds them skips them (tail).
   */
  offer(events: readonly SessionEventRow[]): boolean {
    if (this.closed || events.length === 0) return false;
    if (!events.every((ev, i) => ev.id === this.last + 1 + i)) return false;
    for (const ev of events) {
      this.last = ev.id;
      this.hand(ev);
    }
    return true;
  }

  /** Reads what is new; a read under way reads again when it ends; a failing tail waits its backoff. */
  poll(): void {
    if (this.closed || this.retryTimer) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.polling = this.tail()
      .then(
        () => this.succeeded(),
        (err: unknown) => this.failed(err),
      )
      .finally(() => {
        this.polling = null;
        if (this.pollAgain) {
          this.pollAgain = false;
          this.poll();
        }
      });
  }

  /**
   * Resolves once a read that began after this call has ended (also when it failed: the tail
   * then retries on its backoff), so everything committed before the call has been handed out.
   */
  async caughtUp(): Promise<void> {
    if (this.polling) {
      // The read under way may have begun before the commits the caller means: one more.
      this.pollAgain = true;
      await this.polling;
    } else this.poll();
    await this.polling;
  }

  private succeeded(): void {
    if (this.failures === 0) return;
    this.log.info('event tail recovered', {
      failures: this.failures,
      failingSince: this.since,
      after: this.last,
    });
    this.failures = 0;
    this.since = new Date().toISOString();
  }

  private failed(err: unknown): void {
    if (this.failures === 0) this.since = new Date().toISOString();
    this.failures += 1;
    this.lastError = errorKind(err);
    const retryInMs = Math.min(this.retryBaseMs * 2 ** (this.failures - 1), this.retryMaxMs);
    this.log.error('event tail: reading session_events failed; SSE and create waits are held back', {
      after: this.last,
      attempt: this.failures,
      retryInMs,
      err: String((err as Error)?.message ?? err),
    });
    if (this.closed) return;
    this.pollAgain = false;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.poll();
    }, retryInMs);
  }

  private hand(ev: SessionEventRow): void {
    try {
      this.deliver(ev);
    } catch (err) {
      // Delivery's failure is not the tail's: the next event still goes out.
      this.log.error('event delivery failed', {
        eventId: ev.id,
        err: String((err as Error)?.message ?? err),
      });
    }
  }

  /** Looks again for ids skipped at a hole; delivers the ones that committed meanwhile. */
  private async tailLate(): Promise<void> {
    if (this.late.size === 0) return;
    const now = Date.now();
    for (const [id, since] of this.late) if (now - since > LATE_WINDOW_MS) this.late.delete(id);
    for (const ev of await this.events.byIds([...this.late.keys()])) {
      this.late.delete(ev.id);
      this.hand(ev);
    }
  }

  private async tail(): Promise<void> {
    await this.tailLate();
    for (;;) {
      const rows = await this.events.after(this.last, PAGE);
      let delivered = 0;
      for (const ev of rows) {
        if (ev.id <= this.last) continue; // handed out by offer while this read was under way
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
        this.hand(ev);
      }
      if (delivered < PAGE) return;
    }
  }

  /** Stops; a read under way ends first, and no timer is left behind. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.polling;
    if (this.gapTimer) clearTimeout(this.gapTimer);
    this.gapTimer = null;
  }
}

/** A failure's kind, for the health endpoint: no message text (it may name hosts). */
function errorKind(err: unknown): string {
  if (isDatabaseUnavailable(err)) return 'database-unavailable';
  const e = err as { code?: unknown; name?: unknown } | null;
  if (e && typeof e.code === 'string' && e.code !== '') return e.code;
  if (e && typeof e.name === 'string' && e.name !== '') return e.name;
  return 'error';
}
