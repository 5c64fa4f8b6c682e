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
