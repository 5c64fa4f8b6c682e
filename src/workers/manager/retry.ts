import { retryApplies, retryDelaySeconds, type RetryTrigger } from '../../domain/retry-rules.js';
import type { RetryPolicy } from '../../domain/session-request.js';

/**
 * Whether a failed attempt is tried again, and when (src/domain/retry-rules.ts has the rules):
 * a cause the policy names, or a non-zero exit (`{ exitCode }`) within its `onExitCodes`, while
 * attempts remain; after a backoff capped by its `maxDelaySeconds`.
 */
export function nextRetry(
  policy: RetryPolicy | null,
  attempt: number,
  trigger: RetryTrigger,
  random = Math.random,
): Date | null {
  if (!policy || attempt >= policy.maxAttempts || !retryApplies(policy, trigger)) return null;
  return new Date(Date.now() + retryDelaySeconds(policy, attempt, random) * 1000);
}
