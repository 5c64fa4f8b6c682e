import type { RetryCause, RetryPolicy } from '../../domain/session-request.js';

/**
 * Whether a failed attempt is tried again, and when. Exponential backoff doubles per attempt
 * with up to 20 % jitter so retried sessions do not arrive together.
 */
export function nextRetry(
  policy: RetryPolicy | null,
  attempt: number,
  cause: RetryCause,
  random = Math.random,
): Date | null {
  if (!policy || attempt >= policy.maxAttempts || !policy.on.includes(cause)) return null;
  const base = policy.backoff === 'fixed' ? policy.delaySeconds : policy.delaySeconds * 2 ** (attempt - 1);
  const jitter = base * 0.2 * random();
  return new Date(Date.now() + (base + jitter) * 1000);
}
