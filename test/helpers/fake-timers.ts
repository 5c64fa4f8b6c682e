import type { TimerApi } from '../../src/workers/long-timer.js';

/**
 * A clock the test moves. Like Node, a delay above 2^31−1 ms (or not a finite number) becomes
 * 1 ms, so code that hands a long delay straight to setTimeout misbehaves here as in production.
 */
export class FakeTimers implements TimerApi {
  private clock: number;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  /** Every delay asked of setTimeout, in order. */
  readonly delays: number[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.clock = start;
  }

  now(): number {
    return this.clock;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    this.delays.push(ms);
    const delay = !Number.isFinite(ms) || ms > 2 ** 31 - 1 ? 1 : Math.max(1, Math.floor(ms));
    const id = ++this.seq;
    this.pending.set(id, { at: this.clock + delay, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Timers armed and not yet fired or cleared. */
  get active(): number {
    return this.pending.size;
  }

  /** Moves the clock by `ms`, firing due timers in order (each at its own moment). */
  advance(ms: number): void {
    const end = this.clock + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | null = null;
      for (const e of this.pending) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.pending.delete(next[0]);
      this.clock = Math.max(this.clock, next[1].at);
      next[1].fn();
    }
    this.clock = end;
  }
}
