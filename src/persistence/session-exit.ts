import type { Knex } from 'knex';
import { kernelEventName } from '../domain/events.js';
import { predecessorsOf, type SessionResult } from '../domain/status.js';
import type { Tx } from './db.js';
import { preparedRaw, statementName } from './prepared.js';
import type { SessionRow } from './rows.js';
import { eventData, sessionEventRows } from './session-events.js';

/** What an agent says about a main kernel that exited (and the subs' output read with it). */
export interface KernelExit {
  kernelId: string;
  exitCode: number;
  logs: string;
  logsTruncated: boolean;
  logsBytes: number | null;
  startedAt: Date | null;
  subLogs: readonly { kernelId: string; logs: string; logsTruncated: boolean; logsBytes: number }[];
}

/** The session's move to TERMINATED that the exit calls for. */
export interface ExitMove {
  info: string;
  data: Record<string, unknown>;
  result: SessionResult;
  exitCode: number;
  /** started_at to set with the move; undefined: left as it is. */
  startedAt?: Date | null;
}

/**
 * The session row as the guarded move to TERMINATED leaves it, from the locked row `s` and the
 * move (pure): what the UPDATE writes is known before it runs, so the events are built from it
 * with no `RETURNING *`. `at`: the status_history time of the move.
 */
export function terminatedRowOf(s: SessionRow, move: ExitMove, at: string): SessionRow {
  return {
    ...s,
    status: 'TERMINATED',
    status_history: { ...(s.status_history ?? {}), TERMINATED: at },
    status_info: move.info,
    status_data: { ...(s.status_data ?? {}), ...move.data },
    result: move.result,
    exit_code: move.exitCode,
    ...(move.startedAt !== undefined ? { started_at: move.startedAt } : {}),
  };
}

/**
 * A main kernel's exit and the session's move to TERMINATED, in ONE statement where they were
 * five (the kernel's exit, the subs' output, the guarded UPDATE of the session, the UPDATE of
 * its kernels, their events, the attempt): data-modifying CTEs that commit together in the
 * caller's transaction, in which `s` is locked. The same guards: the session moves only from a
 * predecessor of TERMINATED (else only the kernel's exit and output are written, as before),
 * its kernels only from theirs and only if it moved; the events are the kernel events (main
 * first, then subs by index) then the session's, in one INSERT, ids in that order; the
 * attempt is recorded once (ON CONFLICT DO NOTHING) if it was placed. Sessions with a
 * callback_url take the statements one by one (their webhook bodies are built in JS).
 * True when the session moved.
 */
export async function exitAndTerminateIn(
  trx: Tx,
  s: SessionRow,
  exit: KernelExit,
  move: ExitMove,
): Promise<boolean> {
  const from = predecessorsOf('TERMINATED');
  const at = new Date().toISOString();
  const row = terminatedRowOf(s, move, at);
  const own = sessionEventRows(row, 'TERMINATED', move.info);
  const kernelEvent = kernelEventName('TERMINATED');
  const inList = (n: number) => Array.from({ length: n }, () => '?').join(', ');
  const setStarted = move.startedAt !== undefined;
  // The main kernel's output, then the subs' (only subs of this session take theirs; a sub
  // named twice keeps its last, as when each was its own UPDATE).
  const subs = new Map(exit.subLogs.filter((l) => l.kernelId !== exit.kernelId).map((l) => [l.kernelId, l]));
  const logs = [
    [exit.kernelId, exit.logs, exit.logsTruncated, exit.logsBytes, true],
    ...[...subs.values()].map((l) => [l.kernelId, l.logs, l.logsTruncated, l.logsBytes, false]),
  ];
  const sessionEvents = own.events.map((_, i) => `(${i}, ?::text, ?::jsonb)`).join(', ');
  const sql = `
    WITH s AS (
      UPDATE sessions SET status = 'TERMINATED', updated_at = now(),
             status_history = status_history || ?::jsonb, status_info = ?,
             status_data = status_data || ?::jsonb, result = ?, exit_code = ?,
             terminated_at = now()${setStarted ? ', started_at = ?::timestamptz' : ''}
       WHERE id = ? AND status IN (${inList(from.length)})
      RETURNING id, attempt, agent_id, started_at, terminated_at, exit_code, result, status_info
    ), l (id, logs, truncated, bytes, main) AS (
      VALUES ${logs.map(() => '(?::uuid, ?::text, ?::boolean, ?::bigint, ?::boolean)').join(', ')}
    ), old AS (
      SELECT k.id, k.status IN (${inList(from.length)}) AND EXISTS (SELECT 1 FROM s) AS moves,
             l.id IS NOT NULL AS has_logs, l.main, l.logs, l.truncated, l.bytes
        FROM kernels k LEFT JOIN l ON l.id = k.id AND (l.main OR (k.session_id = ? AND k.cluster_role = 'sub'))
       WHERE k.id = ? OR k.session_id = ?
    ), k AS (
      UPDATE kernels k SET
             exit_code = CASE WHEN o.main THEN ?::int ELSE k.exit_code END,
             started_at = CASE WHEN o.main THEN coalesce(?::timestamptz, k.started_at) ELSE k.started_at END,
             logs = CASE WHEN o.has_logs THEN o.logs ELSE k.logs END,
             logs_truncated = CASE WHEN o.has_logs THEN o.truncated ELSE k.logs_truncated END,
             logs_bytes = CASE WHEN o.has_logs THEN o.bytes ELSE k.logs_bytes END,
             status = CASE WHEN o.moves THEN 'TERMINATED' ELSE k.status END,
             status_info = CASE WHEN o.moves THEN ? ELSE k.status_info END,
             status_history = CASE WHEN o.moves THEN k.status_history || ?::jsonb ELSE k.status_history END,
             terminated_at = CASE WHEN o.moves THEN now() ELSE k.terminated_at END
        FROM old o
       WHERE k.id = o.id AND (o.moves OR o.has_logs)
      RETURNING k.id, k.cluster_role, k.cluster_idx, k.exit_code, o.moves
    ), e AS (
      INSERT INTO session_events (session_id, kernel_id, access_key, name, data)
      SELECT ?::uuid, kernel_id, ?, name, data FROM (
        SELECT 0 AS part, k.cluster_role AS role, k.cluster_idx AS idx, k.id AS kernel_id, ?::text AS name,
               ?::jsonb || jsonb_build_object('kernelId', k.id, 'clusterRole', k.cluster_role,
                 'clusterIdx', k.cluster_idx, 'exitCode', coalesce(k.exit_code, ?::int)) AS data
          FROM k WHERE k.moves AND ?::text IS NOT NULL
        ${
          own.events.length > 0
            ? `UNION ALL SELECT 1 AS part, NULL::text AS role, v.n AS idx, NULL::uuid AS kernel_id, v.name, v.data
                 FROM (VALUES ${sessionEvents}) AS v (n, name, data) WHERE EXISTS (SELECT 1 FROM s)`
            : ''
        }
      ) x ORDER BY part, role COLLATE "C", idx
    ), a AS (
      INSERT INTO session_attempts (session_id, attempt, agent_id, started_at, ended_at, exit_code, result, reason)
      SELECT id, attempt, agent_id, started_at, terminated_at, exit_code, result, status_info
        FROM s WHERE agent_id IS NOT NULL
      ON CONFLICT (session_id, attempt) DO NOTHING
    )
    SELECT count(*)::int AS moved FROM s`;
  const bindings: unknown[] = [
    JSON.stringify({ TERMINATED: at }),
    move.info,
    JSON.stringify(move.data),
    move.result,
    move.exitCode,
    ...(setStarted ? [move.startedAt] : []),
    s.id,
    ...from,
    ...logs.flat(),
    ...from,
    s.id,
    exit.kernelId,
    s.id,
    exit.exitCode,
    exit.startedAt,
    move.info,
    JSON.stringify({ TERMINATED: at }),
    s.id,
    s.access_key,
    kernelEvent ?? null,
    JSON.stringify(eventData(row, move.info)),
    row.exit_code,
    kernelEvent ?? null,
    ...own.events.flatMap((e) => [e.name, e.data]),
  ];
  const { rows } = (await preparedRaw(
    trx,
    statementName('exit', sql),
    sql,
    bindings as Knex.RawBinding[],
  )) as {
    rows: { moved: number }[];
  };
  return (rows[0]?.moved ?? 0) > 0;
}
