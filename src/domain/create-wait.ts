import type { SessionStatus } from './status.js';

/**
 * The statuses that end the wait of a create request with `enqueueOnly: false`: RUNNING, or a
 * status past it (a fast batch session may have ended already; bai answers that status where
 * Backend.AI answers 404).
 */
export const WAITED_STATUSES: readonly SessionStatus[] = [
  'RUNNING',
  'TERMINATING',
  'TERMINATED',
  'CANCELLED',
  'ERROR',
];

/**
 * How long a create request waits for its session, in milliseconds: `maxWaitSeconds`, or no
 * limit (null) for 0, as Backend.AI waits: only the client's own timeout (its going away) ends it.
 */
export function createWaitLimitMs(maxWaitSeconds: number): number | null {
  return maxWaitSeconds > 0 ? maxWaitSeconds * 1000 : null;
}
