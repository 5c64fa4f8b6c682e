import { pick, type Body } from './body-fields.js';
import { InvalidRequest } from './errors.js';
import type { RetryCause, RetryPolicy } from './session-request.js';
import { parseTimeoutSeconds } from './starts-at.js';

/**
 * The exit-code rules of a retry policy (AWS Batch's `evaluateOnExit`, reduced to what bai
 * needs): `onExitCodes` limits which non-zero exits are retried, `maxDelaySeconds` caps the
 * backoff. Pure: parsed from the create body, applied by the manager's nextRetry.
 */

/** At most this many exit codes in `on_exit_codes`. */
export const MAX_EXIT_CODES = 64;

/** How a failed attempt ended, as far as retrying cares. */
export type RetryTrigger = RetryCause | { exitCode: number };

/** The exit-code fields of a `retry` object; absent fields stay absent (policies stored before them). */
export function parseRetryExitRules(
  o: Body,
  delaySeconds: number,
): Pick<RetryPolicy, 'onExitCodes' | 'maxDelaySeconds'> {
  const out: Pick<RetryPolicy, 'onExitCodes' | 'maxDelaySeconds'> = {};
  const codes = pick(o, 'on_exit_codes', 'onExitCodes');
  if (codes !== undefined) out.onExitCodes = parseExitCodes(codes);
  const maxRaw = pick(o, 'max_delay', 'maxDelay', 'max_delay_seconds', 'maxDelaySeconds');
  if (maxRaw !== undefined) {
    const max = parseTimeoutSeconds(maxRaw, 'retry.max_delay');
    if (max < delaySeconds) {
      throw new InvalidRequest(
        `retry.max_delay (${max} s) is shorter than retry.delay (${delaySeconds} s; 1 s when not given).`,
      );
    }
    out.maxDelaySeconds = max;
  }
  return out;
}

/** A list of exit codes 1–255 (numbers or digit strings), sorted without repeats. */
function parseExitCodes(v: unknown): number[] {
  const field = 'retry.on_exit_codes';
  if (!Array.isArray(v) || v.length === 0) {
    throw new InvalidRequest(`${field} must be a non-empty list of exit codes (integers from 1 to 255).`);
  }
  if (v.length > MAX_EXIT_CODES)
    throw new InvalidRequest(`${field} has more than ${MAX_EXIT_CODES} entries.`);
  const codes = v.map((x) => {
    const n = typeof x === 'string' && /^\s*\d+\s*$/.test(x) ? Number(x) : x;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 255) {
      throw new InvalidRequest(`${field}: ${JSON.stringify(x)} is not an exit code from 1 to 255.`);
    }
    return n;
  });
  return [...new Set(codes)].sort((a, b) => a - b);
}

/**
 * The causes a policy retries. Giving `onExitCodes` implies `non-zero-exit` (restricted to those
 * codes by retryApplies); the other causes are as listed.
 */
export function retryCauses(
  on: readonly RetryCause[],
  onExitCodes: readonly number[] | undefined,
): RetryCause[] {
  return onExitCodes && !on.includes('non-zero-exit') ? [...on, 'non-zero-exit'] : [...on];
}

/**
 * Whether an attempt that ended this way is retried by the policy's causes and exit codes
 * (the number of attempts is checked by the caller). A non-zero exit whose code is not known
 * (`'non-zero-exit'`) is not retried when the policy names codes.
 */
export function retryApplies(policy: RetryPolicy, trigger: RetryTrigger): boolean {
  if (typeof trigger === 'string') {
    return policy.on.includes(trigger) && !(trigger === 'non-zero-exit' && policy.onExitCodes);
  }
  if (!policy.on.includes('non-zero-exit')) return false;
  return !policy.onExitCodes || policy.onExitCodes.includes(trigger.exitCode);
}

/**
 * Seconds before attempt `attempt + 1`: exponential backoff doubles per attempt, with up to
 * 20 % jitter so retried sessions do not arrive together; never more than maxDelaySeconds.
 */
export function retryDelaySeconds(policy: RetryPolicy, attempt: number, random: () => number): number {
  const base = policy.backoff === 'fixed' ? policy.delaySeconds : policy.delaySeconds * 2 ** (attempt - 1);
  const delay = base + base * 0.2 * random();
  return policy.maxDelaySeconds === undefined ? delay : Math.min(delay, policy.maxDelaySeconds);
}
