/**
 * Waiting in tests: on a condition, never on a fixed time. Deadlines are generous (a shared
 * 2-core machine under load runs everything many times slower); they are there to end a test
 * that hangs, not to measure speed.
 */

import { sleep, waitUntil, type NotYet } from '../../src/stack/process-util.js';

export interface EventuallyOptions {
  /** How long before giving up (default 60 s). */
  timeoutMs?: number;
  /** The pause between two tries (default 100 ms). */
  intervalMs?: number;
  /** What was awaited, for the error; a function is called only when it fails. */
  message?: string | (() => string);
}

/**
 * Calls `fn` until it returns something other than null, undefined or false, and resolves with
 * that. A throw counts as "not yet" too (a manager still starting, a file not yet written); the
 * last one is quoted in the error when the deadline passes. `waitUntil` with a test's defaults.
 */
export function eventually<T>(
  fn: () => T | NotYet | Promise<T | NotYet>,
  opts: EventuallyOptions = {},
): Promise<T> {
  return waitUntil(opts.message ?? 'a condition', fn, {
    timeoutMs: opts.timeoutMs ?? 60_000,
    intervalMs: opts.intervalMs ?? 100,
  });
}

/** `eventually` with the awaited thing named first: `await until('the agent ALIVE', probe)`. */
export function until<T>(
  what: string,
  probe: () => Promise<T | NotYet> | T | NotYet,
  timeoutMs = 60_000,
): Promise<T> {
  return waitUntil(what, probe, { timeoutMs, intervalMs: 100 });
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
    await sleep(intervalMs);
  }
}
