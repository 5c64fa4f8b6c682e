import type { Redis } from 'ioredis';
import { reportsPausedChannel, reportsPausedKey } from '../../queue/names.js';

/**
 * The operator's reports pause (`<prefix>:reports-paused`, docs/deploy.md) as the report
 * consumer last read it: at start, on every claim pass, and on each message on its channel
 * (sent by whoever sets or deletes the key). Reads are not held for a look at the key: that was
 * one EXISTS per read, ~2 Redis commands per session. A pause set or deleted without a message
 * takes effect within a claim pass.
 */
export class ReportsPause {
  private paused = false;
  private reads = 0;
  private sub: Redis | null = null;
  private readonly resumed: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /**
   * Follows the channel: a connection of its own reads the key on every message (and once
   * subscribed again after a reconnect).
   */
  watch(): void {
    const sub = this.redis.duplicate();
    this.sub = sub;
    sub.on('error', () => {}); // the claim pass reads the key meanwhile
    sub.on('message', () => void this.read().catch(() => {}));
    sub.on('ready', () => void this.read().catch(() => {}));
    sub.subscribe(reportsPausedChannel(this.prefix)).catch(() => {});
  }

  /** Reads the key: whether paused. A read that answers after a later one began is not taken. */
  async read(): Promise<boolean> {
    const n = ++this.reads;
    const paused = (await this.redis.exists(reportsPausedKey(this.prefix))) === 1;
    if (n === this.reads) this.set(paused);
    return this.paused;
  }

  /** Resolves once not paused (as last read), or closed. */
  async whileHeld(): Promise<void> {
    while (!this.closed && this.paused) await new Promise<void>((r) => this.resumed.push(r));
  }

  close(): void {
    this.closed = true;
    this.set(false);
    this.sub?.disconnect();
  }

  private set(paused: boolean): void {
    this.paused = paused;
    if (paused && !this.closed) return;
    for (const r of this.resumed.splice(0)) r();
  }
}
