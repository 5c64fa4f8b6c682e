import { predicate } from '../domain/predicates.js';
import { predecessorsOf, type SessionStatus } from '../domain/status.js';
import type { Db, Tx } from './db.js';
import type { AttemptRecord, SessionAttemptRow, SessionRow } from './rows.js';

export interface RetryOptions {
  /** Why the attempt ended (recorded in `attempts`). */
  reason: string;
  exitCode: number | null;
  /** When the next attempt may be placed. */
  at: Date;
  /** Merged into status_data. */
  data: Record<string, unknown>;
  /** The statuses it may leave (default: every predecessor of PENDING). */
  from?: readonly SessionStatus[];
}

/** A retried attempt as `sessions.attempts` lists it. */
export function retriedAttemptRecord(s: SessionRow, retry: RetryOptions): AttemptRecord {
  return {
    attempt: s.attempt,
    agentId: s.agent_id,
    status: s.status,
    reason: retry.reason,
    exitCode: retry.exitCode,
    endedAt: new Date().toISOString(),
  };
}

/**
 * How a retry waits out its backoff: one not over waits out of the queue (`due_later`), its
 * `retry_backoff` predicate written with the move (nothing else writes it: the survey did for
 * the retries in the queue until migration 20261203140000 flagged those); the survey puts it
 * back once `retry_after` has passed (migration 20261203120000). A backoff already over joins
 * the queue at once.
 */
export function backoffWait(
  retry: RetryOptions,
  now = Date.now(),
): { dueLater: boolean; data: Record<string, unknown> } {
  if (retry.at.getTime() <= now) return { dueLater: false, data: retry.data };
  return {
    dueLater: true,
    data: { ...retry.data, predicates: [predicate('retryBackoff', { retryAfter: retry.at })] },
  };
}

/**
 * The `session_attempts` table: one row per ended attempt, written in the transaction that
 * ends it (a retry, or the session's final status). The key (session_id, attempt) with
 * ON CONFLICT DO NOTHING makes a replayed report, or two paths ending the same attempt, write
 * it once: the first ending wins, as the guarded transitions decide.
 */

/**
 * The attempt a session just ended with, when the move (its row as returned) ended it. An
 * attempt never placed on an agent (cancelled while PENDING) did not run and is not recorded.
 */
export async function recordFinalAttempt(trx: Tx, row: SessionRow): Promise<void> {
  if ((row.status !== 'TERMINATED' && row.status !== 'CANCELLED') || row.agent_id === null) return;
  await trx('session_attempts')
    .insert({
      session_id: row.id,
      attempt: row.attempt,
      agent_id: row.agent_id,
      started_at: row.started_at,
      ended_at: row.terminated_at ?? trx.fn.now(),
      exit_code: row.exit_code,
      result: row.result,
      reason: row.status_info,
    })
    .onConflict(['session_id', 'attempt'])
    .ignore();
}

/**
 * The attempt a retry ends, read from the session row as it stands in `trx` (its agent and
 * start time), while the row may move back to PENDING (from `from`, default: any predecessor)
 * and is still at that attempt. The row is locked, so the guarded move back to PENDING that
 * follows in `trx` sees the same status.
 */
export async function recordRetriedAttempt(
  trx: Tx,
  s: { id: string; attempt: number },
  end: { exitCode: number | null; reason: string; from?: readonly SessionStatus[] },
): Promise<void> {
  const from = (end.from ?? predecessorsOf('PENDING')).filter((x) => predecessorsOf('PENDING').includes(x));
  if (from.length === 0) return;
  await trx.raw(
    `INSERT INTO session_attempts (session_id, attempt, agent_id, started_at, ended_at, exit_code, result, reason)
     SELECT id, attempt, agent_id, started_at, now(), ?, 'FAILURE', ?
       FROM sessions WHERE id = ? AND attempt = ? AND status IN (${from.map(() => '?').join(', ')})
        FOR UPDATE
     ON CONFLICT (session_id, attempt) DO NOTHING`,
    [end.exitCode, end.reason.slice(0, 128), s.id, s.attempt, ...from],
  );
}

/** A session's ended attempts, first to last. */
export async function attemptsOf(db: Db, sessionId: string): Promise<SessionAttemptRow[]> {
  return (await db('session_attempts')
    .where({ session_id: sessionId })
    .orderBy('attempt')) as SessionAttemptRow[];
}
