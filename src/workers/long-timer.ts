/**
 * Timers for any delay. Node's setTimeout takes at most 2^31−1 ms (≈ 24.8 days); a longer delay
 * (a `batch_timeout` of `4w`, a `starts_at` months ahead) overflows to 1 ms and fires at once.
 * A long timer waits in steps of at most `maxStepMs`, each time re-reading the clock, and fires
 * only when its deadline has passed — never early, whatever the delay.
 */

/** The timer functions a long timer uses; injectable so tests drive time themselves. */
export interface TimerApi {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: TimerApi = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** The longest delay Node's setTimeout honours. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface LongTimeout {
  /** The epoch ms at which it fires. */
  readonly at: number;
  /** Stops it; harmless after it fired or was cleared. */
  clear(): void;
  /** True until it fired or was cleared. */
  readonly active: boolean;
}

/** Calls `fn` once the clock reaches `at` (epoch ms); at once (next tick) when it has passed. */
export function setLongTimeoutAt(
  fn: () => void,
  at: number,
  timers: TimerApi = realTimers,
  maxStepMs = MAX_TIMEOUT_MS,
): LongTimeout {
  let handle: unknown = null;
  let active = true;
  const step = () => {
    handle = null;
    if (!active) return;
    if (timers.now() >= at) {
      active = false;
      fn();
    } else arm(); // a step ended, or the timer fired a little before the clock's millisecond
  };
  const arm = () => {
    handle = timers.setTimeout(step, Math.min(Math.max(0, at - timers.now()), maxStepMs));
  };
  arm();
  return {
    at,
    get active() {
      return active;
    },
    clear() {
      active = false;
      if (handle !== null) timers.clearTimeout(handle);
      handle = null;
    },
  };
}

/** Calls `fn` after `delayMs` (any length; NaN or negative: at once). */
export function setLongTimeout(
  fn: () => void,
  delayMs: number,
  timers: TimerApi = realTimers,
  maxStepMs = MAX_TIMEOUT_MS,
): LongTimeout {
  const delay = Number.isFinite(delayMs) ? Math.max(0, delayMs) : delayMs > 0 ? Infinity : 0;
  return setLongTimeoutAt(fn, timers.now() + delay, timers, maxStepMs);
}

/** clearTimeout for long timers; accepts null. */
export function clearLongTimeout(t: LongTimeout | null | undefined): void {
  t?.clear();
}
