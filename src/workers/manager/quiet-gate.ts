/**
 * With nothing found at its last pass, how often an idle loop passes anyway: a wake-up lost with
 * Redis (another manager's commit), or a change nothing tells about (an agent registered since).
 */
export const QUIET_RECHECK_MS = 10_000;

/** When a pass began, and the wake-ups counted then. */
export interface PassMark {
  readonly at: number;
  readonly wakes: number;
}

export interface QuietGateOptions {
  /** How long a quiet record lets ticks skip (QUIET_RECHECK_MS). */
  recheckMs?: number;
  /** The clock (epoch ms), read when asked; Date.now unless the loop has its own. */
  now?: () => number;
  /** Wake-ups counted elsewhere (ArrayStore.insertions), added to those told through `wake`. */
  counted?: () => number;
}

/**
 * "Quiet until something changes; recheck every 10 s", for the manager's idle loops (dispatcher,
 * reconciler, schedule ticker, array settle step). A pass begins (`begin`, a mark); if it found
 * nothing to do, it says so with that mark (`rest`, with what it wants to compare next time).
 * A tick may then skip (`resting`) while no wake-up came since the last pass began and the
 * recheck is not due. A wake-up during a pass counts against it: that pass's `rest` records
 * nothing, so the next tick passes.
 */
export class QuietGate<P = void> {
  private told = 0;
  /** The wake-ups counted when the last pass began. */
  private begun = 0;
  private quiet: { at: number; payload: P } | null = null;
  private readonly recheckMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: QuietGateOptions = {}) {
    this.recheckMs = opts.recheckMs ?? QUIET_RECHECK_MS;
    this.now = opts.now ?? (() => Date.now());
  }

  /** Something changed: the next tick passes, and a pass under way does not record quiet. */
  wake(): void {
    this.told++;
  }

  /** Wake-ups so far. */
  get wakes(): number {
    return this.told + (this.opts.counted?.() ?? 0);
  }

  /**
   * A pass begins: the wake-ups so far are its own. What an earlier pass found is kept until
   * `rest` or `forget`; a loop whose pass may fail halfway forgets it here if it must not outlive
   * that pass.
   */
  begin(): PassMark {
    const mark = { at: this.now(), wakes: this.wakes };
    this.begun = mark.wakes;
    return mark;
  }

  /** The pass begun at `mark` found nothing: quiet from then, unless a wake-up came since. */
  rest(mark: PassMark, payload: P): void {
    this.quiet = this.wakes === mark.wakes ? { at: mark.at, payload } : null;
  }

  /** What the last pass found may be stale (the lease was away, a change elsewhere): pass. */
  forget(): void {
    this.quiet = null;
  }

  /**
   * The quiet record while a tick may skip: the last pass found nothing, no wake-up came since the
   * last pass began, and the recheck is not due. The clock is read only when it decides.
   */
  resting(): { at: number; payload: P } | null {
    const q = this.quiet;
    if (q && this.wakes === this.begun && this.now() - q.at < this.recheckMs) return q;
    return null;
  }
}
