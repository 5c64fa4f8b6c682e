import type { SessionResult } from './status.js';

/** Exit code Backend.AI reports for a batch session killed by its batch_timeout. */
export const TIMEOUT_EXIT_CODE = -2;

export interface BatchOutcome {
  result: SessionResult;
  reason: string;
}

/** How a finished main container's exit becomes the session's result and status_info. */
export function outcomeOfExit(
  exitCode: number,
  opts: { timedOut?: boolean; oomKilled?: boolean } = {},
): BatchOutcome {
  if (opts.timedOut) return { result: 'FAILURE', reason: 'task-timeout' };
  if (exitCode === 0) return { result: 'SUCCESS', reason: 'task-finished' };
  if (opts.oomKilled) return { result: 'FAILURE', reason: 'out-of-memory' };
  return { result: 'FAILURE', reason: 'task-failed' };
}

/**
 * Whether a main container that has ended was ended by its batch timeout. The agent's timer
 * may fire while the engine is away and the container ends on its own meanwhile; Docker's
 * record decides: it timed out only if it ran to its deadline and did not succeed.
 */
export function endedByTimeout(
  batchTimeoutSec: number | null,
  st: { exitCode: number; startedAt: number | null; finishedAt: number | null },
): boolean {
  if (batchTimeoutSec === null || st.exitCode === 0) return false;
  if (st.startedAt === null || st.finishedAt === null) return false;
  return st.finishedAt - st.startedAt >= batchTimeoutSec * 1000;
}
