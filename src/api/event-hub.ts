import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../log/logger.js';
import type { CatalogKind } from '../persistence/catalog-store.js';
import type { EventLog } from '../persistence/event-store.js';
import type { SessionEventRow } from '../persistence/rows.js';
import { eventsChannel } from '../queue/names.js';
import { EventTail, type TailState } from './event-tail.js';

type EventListener = (ev: SessionEventRow) => void;

const FORGET = 'forget-keypair:';
/** `forget-catalog:<kind>\u0000<name>`: an admin changed a row the submit path remembers. */
const FORGET_CATALOG = 'forget-catalog:';
/**
 * The poll that covers lost wake-ups (Redis away, a message dropped). Every local commit and
 * every other manager's wake-up tails at once, so this only bounds how late an event is when
 * both failed: one read of session_events every 2 s on an idle manager, not every 0.5 s.
 */
const SLOW_POLL_MS = 2_000;
/**
 * With no listener, the slow poll reads only this often: the events have nobody to go to (the
 * next listener's arrival tails), so it only keeps the tail's health (`/health`) current.
 */
const IDLE_POLL_MS = 10_000;
/** A wake-up names its sender, so a manager does not tail again for its own commit. */
const WAKE = 'wake:';
/** A manager (re)subscribed: the others publish their wake-ups again. */
const HELLO = 'hello:';
/** `schedules:<sender>:<ms>`: a schedule's next instant changed (created, patched, resumed). */
const SCHEDULES = 'schedules:';

/**
 * Hands new session events (the durable log, tailed by EventTail) to listeners: SSE streams,
 * create requests waiting for RUNNING. Managers wake each other through Redis pub/sub; a slow
 * poll covers lost wake-ups. The same channel tells every manager that a keypair changed.
 *
 * A commit tails at once only while someone listens: with no listener (a manager under a batch
 * load nobody follows) the events have nobody to go to, so the hub only notes that it is
 * behind, and the next listener's arrival tails (as does the slow poll, which also keeps the
 * tail's health current). That was one read of session_events per commit, ~3.7 per session in
 * a drain.
 */
export class EventHub {
  private readonly listeners = new Set<EventListener>();
  private readonly forgetters = new Set<(accessKey: string) => void>();
  private readonly catalogForgetters = new Set<(kind: CatalogKind, name: string) => void>();
  private readonly elsewhere = new Set<() => void>();
  private readonly scheduleWakers = new Set<(at: Date) => void>();
  private readonly tailer: EventTail;
  private timer: NodeJS.Timeout | null = null;
  private sub: Redis | null = null;
  private closed = false;
  /** This hub's own wake-up message (any other message but a FORGET one wakes it). */
  private readonly ownWake = `${WAKE}${randomUUID()}`;
  /** Events were committed since the last read began, and nobody listened to tail them. */
  private behind = false;
  private catchingUp: Promise<void> | null = null;
  /** When the tail was last asked to read (Date.now()). */
  private readAt = 0;
  /**
   * Whether another manager may listen: the last wake-up reached another subscriber than this
   * hub's own, or another manager's message came since. Alone, a manager does not publish its
   * wake-ups (that was a PUBLISH per commit, ~3 per drained session, that nobody received).
   */
  private others = true;
  /** Counts the other managers' messages, so a PUBLISH answer older than one is not taken. */
  private heard = 0;

  constructor(
    events: EventLog,
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    this.tailer = new EventTail(events, (ev) => this.deliver(ev), log);
  }

  async start(): Promise<void> {
    await this.tailer.start();
    this.sub = this.redis.duplicate();
    this.sub.on('error', (err: unknown) =>
      // ioredis reconnects and resubscribes by itself; meanwhile the slow poll keeps the tail going.
      this.log.error('event hub: redis subscriber error', { err: String((err as Error)?.message ?? err) }),
    );
    await this.sub.subscribe(eventsChannel(this.prefix));
    if (this.closed) return;
    // Subscribed again after a reconnect (ioredis does it by itself): say so, and publish again
    // until the count says nobody else listens.
    this.sub.on('ready', () => this.hello());
    this.hello();
    this.sub.on('message', (_channel: string, message: string) => {
      if (message !== this.ownWake && message !== this.ownHello && !message.startsWith(this.ownSchedules)) {
        this.heard++;
        this.others = true;
      }
      if (message.startsWith(HELLO)) return;
      if (message.startsWith(SCHEDULES)) {
        const [sender, ms] = message.slice(SCHEDULES.length).split(':');
        if (sender !== this.ownId && ms) for (const f of this.scheduleWakers) f(new Date(Number(ms)));
      } else if (message.startsWith(FORGET)) {
        for (const f of this.forgetters) f(message.slice(FORGET.length));
      } else if (message.startsWith(FORGET_CATALOG)) {
        const [kind, name] = message.slice(FORGET_CATALOG.length).split('\u0000') as [CatalogKind, string];
        for (const f of this.catalogForgetters) f(kind, name);
      } else if (message !== this.ownWake) {
        for (const f of this.elsewhere) f();
        this.committed();
      }
    });
    this.timer = setInterval(() => this.slowPoll(), SLOW_POLL_MS);
  }

  /** The poll for lost wake-ups: every SLOW_POLL_MS while someone listens, else IDLE_POLL_MS. */
  private slowPoll(): void {
    if (this.listeners.size > 0 || Date.now() - this.readAt >= IDLE_POLL_MS) this.read();
  }

  /**
   * New events were committed (here or by another manager): tail now if anyone listens, unless
   * the commit's own events (`events`, returned by its statement) were the next to hand out.
   */
  private committed(events?: readonly SessionEventRow[]): void {
    if (this.listeners.size === 0) this.behind = true;
    else if (!events || !this.tailer.offer(events)) this.read();
  }

  /** Whether a commit here should return its events for notify (someone listens now). */
  wantsEvents(): boolean {
    return this.listeners.size > 0;
  }

  private read(): void {
    this.behind = false;
    this.readAt = Date.now();
    this.tailer.poll();
  }

  /**
   * Resolves once every event committed before the call has been read, so `horizon()` covers
   * them: a stream that replays up to the horizon calls this first (a hub with no listener
   * may be behind). At once when the hub is not behind.
   */
  async caughtUp(): Promise<void> {
    if (this.behind && !this.catchingUp) {
      this.behind = false;
      this.catchingUp = this.tailer.caughtUp().finally(() => (this.catchingUp = null));
    }
    await this.catchingUp;
  }

  /** Everything up to this id has been delivered (or is known not to exist). */
  horizon(): number {
    return this.tailer.horizon();
  }

  /** Whether the tail advances, for the health endpoint. */
  tailState(): TailState {
    return this.tailer.state();
  }

  /**
   * Local commit: tail now, and wake the other managers (this one ignores its own wake-up: it
   * has tailed already). A group commit of many sessions calls this once. `events`: the
   * commit's own, when its statement returned them (handed out without a read when they can be).
   */
  notify(events?: readonly SessionEventRow[]): void {
    this.committed(events);
    if (!this.others) return;
    const heard = this.heard;
    this.publish(this.ownWake, (receivers) => {
      // Only this hub's subscriber (or none) got it, and no other manager spoke since it was sent.
      if (receivers <= 1 && this.heard === heard) this.others = false;
    });
  }

  /** This hub's hello: other managers publish their wake-ups again (they may have stopped, alone). */
  private get ownHello(): string {
    return `${HELLO}${this.ownId}`;
  }

  private get ownSchedules(): string {
    return `${SCHEDULES}${this.ownId}:`;
  }

  private get ownId(): string {
    return this.ownWake.slice(WAKE.length);
  }

  private hello(): void {
    this.others = true;
    this.publish(this.ownHello);
  }

  /**
   * Tells every manager (this one included) that a keypair changed, so their authenticators drop
   * it from their caches: a deactivation or revocation is effective everywhere at once.
   */
  keypairChanged(accessKey: string): void {
    for (const f of this.forgetters) f(accessKey);
    this.publish(`${FORGET}${accessKey}`);
  }

  onKeypairChanged(f: (accessKey: string) => void): void {
    this.forgetters.add(f);
  }

  /**
   * Tells every manager (this one included, at once) that an admin changed a resource policy,
   * scaling group or domain, so their submit paths' caches drop it (CatalogStore.forget).
   */
  catalogChanged(kind: CatalogKind, name: string): void {
    for (const f of this.catalogForgetters) f(kind, name);
    this.publish(`${FORGET_CATALOG}${kind}\u0000${name}`);
  }

  onCatalogChanged(f: (kind: CatalogKind, name: string) => void): void {
    this.catalogForgetters.add(f);
  }

  /**
   * A schedule's next instant changed here: every other manager's `onSchedulesChanged` is told
   * (the one holding the schedules lease fires it; lost with Redis, its quiet recheck finds it).
   */
  schedulesChanged(at: Date | null): void {
    if (at !== null) this.publish(`${this.ownSchedules}${at.getTime()}`);
  }

  onSchedulesChanged(f: (at: Date) => void): void {
    this.scheduleWakers.add(f);
  }

  /** `f` runs on each wake-up from another manager (it committed something; lost when Redis is). */
  onCommittedElsewhere(f: () => void): void {
    this.elsewhere.add(f);
  }

  /** How many listeners (SSE streams, create waits) are subscribed now. */
  get listenerCount(): number {
    return this.listeners.size;
  }

  /**
   * From now on `listener` gets every event committed, in id order. When the hub was behind
   * (no listener since some commits), it tails at once, and the listener may also get events
   * committed shortly before it subscribed; `caughtUp()` first avoids that.
   */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    if (this.behind) this.read();
    return () => this.listeners.delete(listener);
  }

  private publish(message: string, receivers?: (n: number) => void): void {
    this.redis.publish(eventsChannel(this.prefix), message).then(receivers, (err: unknown) =>
      // Redis unreachable: other managers' slow poll finds the events, their keypair caches expire in 2 s.
      this.log.error('event hub: wake-up not published', {
        message,
        err: String((err as Error)?.message ?? err),
      }),
    );
  }

  private deliver(ev: SessionEventRow): void {
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        // A listener's failure is its own: the others still get the event.
        this.log.error('event listener failed', {
          eventId: ev.id,
          err: String((err as Error)?.message ?? err),
        });
      }
    }
  }

  /** Stops tailing; a tail under way ends first, and no timer is left behind. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeners.clear();
    this.forgetters.clear();
    this.catalogForgetters.clear();
    this.elsewhere.clear();
    this.scheduleWakers.clear();
    await this.tailer.close();
    await this.sub?.quit().catch((err: unknown) =>
      // Closing anyway: a subscriber that cannot say goodbye is dropped.
      this.log.info('event hub: redis subscriber closed without QUIT', {
        err: String((err as Error)?.message ?? err),
      }),
    );
  }
}
