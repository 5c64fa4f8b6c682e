import type { ScheduleFiring } from '../../api/schedule-firing.js';
import type { Logger } from '../../log/logger.js';
import type { ScheduleStore } from '../../persistence/schedule-store.js';
import { realTimers, setLongTimeoutAt, type LongTimeout, type TimerApi } from '../long-timer.js';
import { Loop } from './loop.js';
import { QuietGate } from './quiet-gate.js';

export interface ScheduleTickerDeps {
  schedules: Pick<ScheduleStore, 'dueAndNext' | 'earliest'>;
  firing: Pick<ScheduleFiring, 'fireDue'>;
  log: Logger;
  /** Runs `fn` only while this manager holds the schedules lease (src/queue/lease.ts). */
  withLease: (fn: () => Promise<void>) => Promise<void>;
  /** The safety tick (ms): a pass even when no timer is armed (another manager's schedule, a lost lease). */
  tickMs?: number;
  timers?: TimerApi;
}

/** Schedules decided per pass at most; a pass that hit it runs again at once. */
const PASS_LIMIT = 100;

/**
 * Fires due schedules on the manager holding the schedules lease. A pass reads the schedules
 * whose next_run_at has come and decides each (ScheduleFiring.fireDue); it then arms a timer at
 * the earliest next_run_at left, and a safety tick runs a pass every `tickMs` whatever happens
 * (the lease moved here, a schedule created through another manager); a tick during a pass is
 * dropped (src/workers/manager/loop.ts). When the last read found no schedule to fire at all,
 * the tick reads only every QUIET_RECHECK_MS: a create or resume wakes the ticker of every
 * manager (`wake`, told through Redis by the event hub). Correctness does not rest
 * on the lease: two managers passing at once write each instant once (ScheduleStore.fire).
 */
export class ScheduleTicker {
  private readonly loop: Loop;
  private timer: LongTimeout | null = null;
  private closed = false;
  private readonly timers: TimerApi;
  /**
   * Whether the last read found no schedule to fire at all, and whether a pass was asked for
   * (kick, wake: a wake-up) since the last one began, not only the safety tick.
   */
  private readonly quiet: QuietGate;

  constructor(private readonly deps: ScheduleTickerDeps) {
    this.timers = deps.timers ?? realTimers;
    this.quiet = new QuietGate({ now: () => this.timers.now() });
    this.loop = new Loop(
      deps.tickMs ?? 1_000,
      () => this.pass(),
      (err) => deps.log.error('schedule pass failed', { err: String(err) }),
      () => !this.quiet.resting(),
    );
  }

  start(): void {
    if (!this.closed) this.loop.start();
  }

  /** Asks for a pass soon; passes never overlap, and kicks during a pass cause one more. */
  kick(): void {
    if (this.closed) return;
    this.quiet.wake();
    this.loop.kick();
  }

  /**
   * A schedule's next instant changed (created, patched, resumed; here or, told through
   * Redis, on another manager): wake at it if it is the first.
   */
  wake(at: Date | null): void {
    if (at === null || this.closed) return;
    // Not quiet any more: the next pass reads, whatever wakes it (this, its timer, the tick).
    this.quiet.wake();
    this.quiet.forget();
    if (at.getTime() <= this.timers.now()) return this.kick();
    if (at.getTime() < (this.timer?.active ? this.timer.at : Infinity)) this.arm(at.getTime());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.clear();
    this.timer = null;
    await this.loop.close();
  }

  private async pass(): Promise<void> {
    // No schedule to fire at the last read: the safety tick reads only every
    // QUIET_RECHECK_MS; whatever changes that (a create, a resume, here or elsewhere) wakes it.
    // The last read's finding is kept until this one's (a failed read leaves it).
    if (this.quiet.resting()) return;
    const began = this.quiet.begin();
    // The earliest instant left, when this pass's read already says it (nothing was due).
    let next: Date | null | undefined;
    let fired = false;
    await this.deps.withLease(async () => {
      const read = await this.deps.schedules.dueAndNext(new Date(this.timers.now()), PASS_LIMIT);
      const due = read.due;
      fired = due.length > 0;
      if (due.length === 0) next = read.next;
      for (const s of due) {
        if (this.closed) return;
        try {
          await this.deps.firing.fireDue(s, new Date(this.timers.now()));
        } catch (err) {
          // One schedule's failure (PostgreSQL away, a bad row) leaves the others to fire.
          this.deps.log.error('firing a schedule failed', { schedule: s.name, err: String(err) });
        }
      }
      if (due.length === PASS_LIMIT) this.loop.kick();
    });
    if (this.closed) return;
    // One still due (its firing failed, or another manager holds the lease): the safety tick
    // comes back to it, rather than a timer that would spin.
    if (next === undefined) next = await this.deps.schedules.earliest();
    // Quiet only when nothing was due and nothing is left; a wake since the read began wins.
    if (!fired && next === null) this.quiet.rest(began);
    else this.quiet.forget();
    if (next && next.getTime() > this.timers.now()) this.arm(next.getTime());
  }

  private arm(at: number): void {
    if (this.closed) return;
    this.timer?.clear();
    this.timer = setLongTimeoutAt(() => this.kick(), at, this.timers);
  }
}
