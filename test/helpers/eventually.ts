/**
 * Waiting in tests: on a condition, never on a fixed time. Deadlines are generous (a shared
 * 2-core machine under load runs everything many times slower); they are there to end a test
 * that hangs, not to measure speed.
 */

export interface EventuallyOptions {
  /** How long before giving up (default 60 s). */
  timeoutMs?: number;
  /** The pause between two tries (default 100 ms). */
  intervalMs?: number;
  /** What was awaited, for the error; a function is called only when it fails. */
  message?: string | (() => string);
}

/** The values `eventually` reads as "not yet". */
type NotYet = null | undefined | false;

/**
 * Calls `fn` until it returns something other than null, undefined or false, and resolves with
 * that. A throw counts as "not yet" too (a manager still starting, a file not yet written); the
 * last one is quoted in the error when the deadline passes.
 */
export async function eventually<T>(
  fn: () => T | NotYet | Promise<T | NotYet>,
  opts: EventuallyOptions = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const intervalMs = opts.intervalMs ?? 100;
  const until = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const v = await fn();
      if (v !== null && v !== undefined && v !== false) return v;
      lastError = null;
    } catch (err) {
      // Expected while the awaited thing is not there yet; quoted below if it never comes.
      lastError = err;
    }
    if (Date.now() >= until) {
      const what = typeof opts.message === 'function' ? opts.message() : (opts.message ?? 'a condition');
      const why = lastError ? `; last error: ${(lastError as Error).message ?? String(lastError)}` : '';
      throw new Error(`waited ${timeoutMs} ms for ${what}${why}`);
    }
    await delay(intervalMs);
  }
}

/** `eventually` with the awaited thing named first: `await until('the agent ALIVE', probe)`. */
export function until<T>(
  what: string,
  probe: () => Promise<T | NotYet> | T | NotYet,
  timeoutMs = 60_000,
): Promise<T> {
  return eventually(probe, { timeoutMs, message: what });
}

/**
 * As `eventually` for a condition, but resolves false when the deadline passes instead of
 * throwing: for a test whose own assertion, right after, says what is missing.
 */
export async function holdsWithin(
  cond: () => boolean | Promise<boolean>,
  opts: Omit<EventuallyOptions, 'message'> = {},
): Promise<boolean> {
  try {
    return await eventually(cond, opts);
  } catch {
    // Expected: the deadline passed; the caller's assertion reports it.
    return false;
  }
}

/**
 * Waits on something that moves step by step (many sessions ending): polls `step`, which says
 * whether everything is done and a fingerprint of where things stand. Fails only when the
 * fingerprint has not changed for `stallMs`: a slow machine gets all the time it needs as long
 * as something advances, a stuck one is caught. No overall deadline (the test's timeout is one).
 */
export async function untilDone<T>(
  step: () => Promise<{ done: T | null; progress: string }>,
  opts: { stallMs?: number; intervalMs?: number; message: (progress: string) => string },
): Promise<T> {
  const stallMs = opts.stallMs ?? 120_000;
  const intervalMs = opts.intervalMs ?? 250;
  let last = '';
  let movedAt = Date.now();
  for (;;) {
    const { done, progress } = await step();
    if (done !== null) return done;
    if (progress !== last) {
      last = progress;
      movedAt = Date.now();
    } else if (Date.now() - movedAt > stallMs) {
      throw new Error(`nothing advanced for ${stallMs} ms: ${opts.message(progress)}`);
    }
    await delay(intervalMs);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
