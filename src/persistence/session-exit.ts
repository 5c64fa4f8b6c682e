import { callbackEventOf, kernelEventName, resultEventName, sessionEventName } from '../domain/events.js';
import { predecessorsOf, type SessionResult, type SessionStatus } from '../domain/status.js';
import type { Db, Tx } from './db.js';
import { preparedRows } from './prepared.js';
import { unindexedGuard } from './unindexed-guard.js';
import type { SessionRow } from './rows.js';
import {
  callbackDeliveriesSql,
  deliveryValuesSql,
  eventData,
  eventDataSql,
  eventsSql,
  EVENT_RETURNING,
  returnedEvents,
  sessionEventRows,
  type DeliveryRow,
  type QueuedCallbacks,
} from './session-events.js';

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
 * What the exit statement run on its own (no lock taken before it, no transaction around it)
 * requires of the session row, besides a status that may move to TERMINATED: the checks the
 * report handler made on the locked row (its attempt on the sender, not ended, no retry to
 * decide, not an exit overtaking its RUNNING report).
 */
export interface ExitGuard {
  agentId: string;
  attempt: number;
  /** Statuses it may not leave this way (the exit would record RUNNING first). */
  notFrom: readonly SessionStatus[];
  /** The exit is one a retry policy may retry: only a session without a policy goes. */
  noRetryPolicy: boolean;
}

/** The callback event a session event calls for; null: none. */
function callbackOf(name: string | null): string | null {
  return (name && callbackEventOf(name)) ?? null;
}

/** The statement's text and bindings; `guarded`: the one-statement form (see exitAlone). */
function exitStatement(
  sessionId: string,
  exit: KernelExit,
  move: Omit<ExitMove, 'startedAt'>,
  started: { value: Date | null; onlyIfUnset: boolean } | null,
  events: {
    kernelBase: string;
    session: readonly { name: string; data: string }[];
    deliveries: readonly DeliveryRow[];
  } | null,
  guard: ExitGuard | null,
  wantEvents = false,
): { sql: string; bindings: unknown[] } {
  const from = predecessorsOf('TERMINATED');
  const at = new Date().toISOString();
  const kernelEvent = kernelEventName('TERMINATED');
  const inList = (n: number) => Array.from({ length: n }, () => '?').join(', ');
  // The main kernel's output, then the subs' (only subs of this session take theirs; a sub
  // named twice keeps its last, as when each was its own UPDATE).
  const subs = new Map(exit.subLogs.filter((l) => l.kernelId !== exit.kernelId).map((l) => [l.kernelId, l]));
  const logs = [
    [exit.kernelId, exit.logs, exit.logsTruncated, exit.logsBytes, true],
    ...[...subs.values()].map((l) => [l.kernelId, l.logs, l.logsTruncated, l.logsBytes, false]),
  ];
  const setStarted = started
    ? started.onlyIfUnset
      ? ', started_at = coalesce(started_at, ?::timestamptz)'
      : ', started_at = ?::timestamptz'
    : '';
  const statusSql = `status IN (${inList(from.length)})`;
  const whereSql = guard
    ? unindexedGuard(
        `${statusSql} AND agent_id = ? AND attempt = ?::int${
          guard.notFrom.length > 0 ? ` AND status NOT IN (${inList(guard.notFrom.length)})` : ''
        }${guard.noRetryPolicy ? ' AND retry_policy IS NULL' : ''}`,
      )
    : statusSql;
  // On its own (guarded), the events it wrote come back when asked for (eventsSql).
  const returned = eventsSql(guard ? 'e' : null, wantEvents);
  // Built from the row the UPDATE returns (eventDataSql, callbackDeliveriesSql), or given from the locked row.
  const sqlEvents = events === null;
  const resultEvent = resultEventName(move.result) ?? null;
  const terminated = sessionEventName('TERMINATED') ?? null;
  // A batch session's result event, unless it announced its failure at ERROR (sessionEventRows).
  const resultSkipped = `(s.type <> 'batch' OR s.failed_before)`;
  const deliveries = sqlEvents
    ? {
        sql: callbackDeliveriesSql(
          's, (VALUES (0, ?::text, true), (1, ?::text, false)) AS c (n, event, result_event)',
          's',
          'c.event',
          'c.n',
          { where: `NOT (c.result_event AND ${resultSkipped})` },
        ),
        bindings: [callbackOf(resultEvent), callbackOf(terminated)],
      }
    : deliveryValuesSql('s', events.deliveries);
  const kernelBase = sqlEvents ? eventDataSql('s') : '?::jsonb';
  const sessionPart = sqlEvents
    ? `UNION ALL SELECT 1 AS part, NULL::text AS role, v.n AS idx, NULL::uuid AS kernel_id, v.name,
              ${eventDataSql('s')} AS data
         FROM s, (VALUES (0, ?::text, true), (1, ?::text, false)) AS v (n, name, result_event)
        WHERE v.name IS NOT NULL AND NOT (v.result_event AND ${resultSkipped})`
    : events.session.length > 0
      ? `UNION ALL SELECT 1 AS part, NULL::text AS role, v.n AS idx, NULL::uuid AS kernel_id, v.name, v.data
           FROM (VALUES ${events.session.map((_, i) => `(${i}, ?::text, ?::jsonb)`).join(', ')}) AS v (n, name, data)
          WHERE EXISTS (SELECT 1 FROM s)`
      : '';
  const sql = `
    WITH s AS (
      UPDATE sessions SET status = 'TERMINATED', updated_at = now(),
             status_history = status_history || ?::jsonb, status_info = ?,
             status_data = status_data || ?::jsonb, result = ?, exit_code = ?,
             terminated_at = now()${setStarted}
       WHERE id = ? AND ${whereSql}
      RETURNING id, access_key, attempt, agent_id, started_at, terminated_at, exit_code, result, status_info${
        sqlEvents
          ? `, name, status, type, schedule_name, scheduled_for, callback_url, status_history, status_data,
                (status_history -> 'ERROR') IS NOT NULL AS failed_before`
          : ''
      }
    ), l (id, logs, truncated, bytes, main) AS (
      VALUES ${logs.map(() => '(?::uuid, ?::text, ?::boolean, ?::bigint, ?::boolean)').join(', ')}
    ), old AS (
      SELECT k.id, k.status IN (${inList(from.length)}) AND EXISTS (SELECT 1 FROM s) AS moves,
             l.id IS NOT NULL AS has_logs, l.main, l.logs, l.truncated, l.bytes
        FROM kernels k LEFT JOIN l ON l.id = k.id AND (l.main OR (k.session_id = ? AND k.cluster_role = 'sub'))
       WHERE (k.id = ? OR k.session_id = ?)${
         // On its own, the statement's snapshot predates its wait on the session's lock: the
         // kernels are read locked (their current row, not the snapshot's) once it moved.
         guard ? ' AND EXISTS (SELECT 1 FROM s) FOR UPDATE OF k' : ''
       }
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
      SELECT s.id, kernel_id, s.access_key, x.name, x.data FROM s, (
        SELECT 0 AS part, k.cluster_role AS role, k.cluster_idx AS idx, k.id AS kernel_id, ?::text AS name,
               ${kernelBase} || jsonb_build_object('kernelId', k.id, 'clusterRole', k.cluster_role,
                 'clusterIdx', k.cluster_idx, 'exitCode', coalesce(k.exit_code, s.exit_code)) AS data
          FROM k, s WHERE k.moves AND ?::text IS NOT NULL
        ${sessionPart}
      ) x ORDER BY part, role COLLATE "C", idx
      ${guard ? EVENT_RETURNING : ''}
    ), a AS (
      INSERT INTO session_attempts (session_id, attempt, agent_id, started_at, ended_at, exit_code, result, reason)
      SELECT id, attempt, agent_id, started_at, terminated_at, exit_code, result, status_info
        FROM s WHERE agent_id IS NOT NULL
      ON CONFLICT (session_id, attempt) DO NOTHING
    )${deliveries ? `, w AS (${deliveries.sql})` : ''}
    SELECT count(*)::int AS moved, ${deliveries ? '(SELECT count(*) FROM w)::int' : '0'} AS queued, ${returned.sql} FROM s`;
  const bindings: unknown[] = [
    JSON.stringify({ TERMINATED: at }),
    move.info,
    JSON.stringify(move.data),
    move.result,
    move.exitCode,
    ...(started ? [started.value] : []),
    sessionId,
    ...from,
    ...(guard ? [guard.agentId, guard.attempt, ...guard.notFrom] : []),
    ...logs.flat(),
    ...from,
    sessionId,
    exit.kernelId,
    sessionId,
    exit.exitCode,
    exit.startedAt,
    move.info,
    JSON.stringify({ TERMINATED: at }),
    kernelEvent ?? null,
    ...(sqlEvents ? [] : [events.kernelBase]),
    kernelEvent ?? null,
    ...(sqlEvents ? [resultEvent, terminated] : events.session.flatMap((e) => [e.name, e.data])),
    ...(deliveries?.bindings ?? []),
    ...returned.bindings,
  ];
  return { sql, bindings };
}

/**
 * A main kernel's exit and the session's move to TERMINATED, in ONE statement where they were
 * five (the kernel's exit, the subs' output, the guarded UPDATE of the session, the UPDATE of
 * its kernels, their events, the attempt): data-modifying CTEs that commit together in the
 * caller's transaction, in which `s` is locked. The same guards: the session moves only from a
 * predecessor of TERMINATED (else only the kernel's exit and output are written, as before),
 * its kernels only from theirs and only if it moved; the events are the kernel events (main
 * first, then subs by index) then the session's, in one INSERT, ids in that order; the
 * attempt is recorded once (ON CONFLICT DO NOTHING) if it was placed; the callback
 * deliveries (built in JS from the row, as the events) are written only if it moved.
 * True when the session moved.
 */
export async function exitAndTerminateIn(
  trx: Tx,
  s: SessionRow,
  exit: KernelExit,
  move: ExitMove,
): Promise<boolean> {
  const row = terminatedRowOf(s, move, new Date().toISOString());
  const own = sessionEventRows(row, 'TERMINATED', move.info);
  const statement = exitStatement(
    s.id,
    exit,
    move,
    move.startedAt !== undefined ? { value: move.startedAt, onlyIfUnset: false } : null,
    {
      kernelBase: JSON.stringify(eventData(row, move.info)),
      session: own.events,
      deliveries: own.deliveries,
    },
    null,
  );
  const rows = await preparedRows<{ moved: number }>(trx, 'exit', statement);
  return (rows[0]?.moved ?? 0) > 0;
}

/**
 * The same exit and move as exitAndTerminateIn, as ONE statement on its own: no transaction
 * around it, no lock read before it (one round trip where there were four). The UPDATE of the
 * session takes its row lock first, so rows are still locked session first, then kernels (the
 * kernels' part waits on the session's: nothing of them is written unless it moved); the
 * checks the handler made on the locked row are the UPDATE's guard (ExitGuard), and the events
 * and callback deliveries are built in SQL from the row it returns (eventDataSql and
 * callbackDeliveriesSql, the same fields as sessionEventRows). When the guard refuses, NOTHING
 * is written and null comes back: the caller takes the transaction, which sees why (a repeat,
 * a stray report, a retry, ...). `startedAt`: the container's start, set on the session if it
 * has none.
 */
export async function exitAlone(
  db: Db,
  sessionId: string,
  exit: KernelExit,
  move: Omit<ExitMove, 'startedAt'>,
  startedAt: Date | null | undefined,
  guard: ExitGuard,
  wantEvents = false,
): Promise<QueuedCallbacks | null> {
  const statement = exitStatement(
    sessionId,
    exit,
    move,
    startedAt !== undefined ? { value: startedAt, onlyIfUnset: true } : null,
    null,
    guard,
    wantEvents,
  );
  const rows = await preparedRows<{ moved: number; queued: number; events: unknown }>(db, 'exit1', statement);
  const r = rows[0];
  return r && r.moved > 0 ? { callbacksQueued: r.queued > 0, ...returnedEvents(r.events) } : null;
}
