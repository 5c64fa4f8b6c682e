import { callbackEventOf, kernelEventName, resultEventName, sessionEventName } from '../domain/events.js';
import { kernelChains, type SessionChain } from '../domain/phase-chain.js';
import { predecessorsOf, type SessionStatus } from '../domain/status.js';
import type { Db } from './db.js';
import type { ExitMove, KernelExit } from './session-exit.js';
import { callbackBodySql, eventDataSql, eventsSql, EVENT_RETURNING } from './session-events.js';
import { historyOf, kernelMoveValues, runAlone, type PhasesAloneMoved } from './session-phases-at-once.js';
import { unindexedGuard } from './unindexed-guard.js';

/**
 * A held RUNNING report and the exit that carries it (the agent's hold: a main that ended
 * within BAI_RUNNING_REPORT_HOLD_MS of its start), written as ONE statement on its own where
 * they were two (movePhasesAlone, then exitAlone): one UPDATE of the session and one of its
 * kernel, not two of each, and one round trip. What it writes is what the two wrote in turn:
 * the same rows, the same events in the same order (the phases' kernel and session events,
 * each with the row as the phases left it, then the exit's), the same callback deliveries,
 * the attempt. The row as the phases left it (`p`) is the locked row before the statement
 * (`o`, read FOR UPDATE: rows are still locked session first, then kernels) with the phases'
 * history, figures and status.
 *
 * For single-kernel sessions only (the statement's guard says `cluster_size = 1`; a cluster's
 * subs have their own moves and output, which the two statements write): batch jobs are
 * mostly those. When its guard refuses, NOTHING is written and null comes back: the caller
 * takes the two statements, which see why.
 */

/** What the statement requires of the session row: the phases' and the exit's checks together. */
export interface RunExitGuard {
  agentId: string;
  attempt: number;
  /** Statuses the phases move it from alike (chainFromAny). */
  from: readonly SessionStatus[];
  /** The exit is one a retry policy may retry: only a session without a policy goes. */
  noRetryPolicy: boolean;
}

/** A held RUNNING report's phases, the containers it names, and the exit that carried it. */
export interface HeldExit {
  chain: Pick<SessionChain, 'moved' | 'data'>;
  containers: readonly { kernelId: string; containerId: string }[];
  exit: KernelExit;
  move: Omit<ExitMove, 'startedAt'>;
}

/**
 * Whether the one statement can take these phases and this exit (else the two statements do):
 * phases that end RUNNING (a held report's), of a main without subs' output.
 */
export function runAndExitApplies(chain: Pick<SessionChain, 'moved'>, exit: KernelExit): boolean {
  return chain.moved[chain.moved.length - 1]?.status === 'RUNNING' && exit.subLogs.length === 0;
}

/**
 * The statement's text and bindings (bindings collected in the order the text names them).
 * The session's started_at is the RUNNING phase's time: the phases set it, and the exit only
 * fills one that is missing.
 */
function runExitStatement(
  sessionId: string,
  { chain, containers, exit, move }: HeldExit,
  guard: RunExitGuard,
  wantEvents: boolean,
): { sql: string; bindings: unknown[] } {
  const bindings: unknown[] = [];
  const bind = (v: unknown) => {
    bindings.push(v);
    return '?';
  };
  const list = (vs: readonly unknown[]) => vs.map(bind).join(', ');
  /** A part built with its own `?` placeholders and bindings, placed where it stands. */
  const spliced = (part: { values: string; bindings: readonly unknown[] }) => {
    bindings.push(...part.bindings);
    return part.values;
  };
  const at = new Date().toISOString();
  const ends = predecessorsOf('TERMINATED');
  const returned = eventsSql('e', wantEvents);
  const running = chain.moved[chain.moved.length - 1]!; // runAndExitApplies: RUNNING
  const phaseHistory = JSON.stringify(historyOf(chain.moved));
  const kernelPhases = [...kernelChains(chain.moved)];
  const container = containers.find((c) => c.kernelId === exit.kernelId)?.containerId ?? null;
  // The session's events and callbacks of each phase; the kernel's events of each phase it follows.
  const phaseEvents = chain.moved.flatMap((step, i) => {
    const name = sessionEventName(step.status);
    return name ? [[i, name, step.status]] : [];
  });
  const phaseCallbacks = chain.moved.flatMap((step, i) => {
    const name = sessionEventName(step.status);
    const event = name && callbackEventOf(name);
    return event ? [[i, event, step.status]] : [];
  });
  const kernelEvents = kernelPhases.flatMap(([from, steps]) =>
    steps.flatMap((step) => {
      const name = kernelEventName(step.status);
      return name ? [[from, chain.moved.indexOf(step), name, step.status]] : [];
    }),
  );
  const resultEvent = resultEventName(move.result) ?? null;
  const terminated = sessionEventName('TERMINATED') ?? null;
  const kernelEnd = kernelEventName('TERMINATED') ?? null;
  const callbackOf = (name: string | null) => (name && callbackEventOf(name)) ?? null;
  // A batch session's result event, unless it announced its failure at ERROR (sessionEventRows).
  const resultSkipped = `(s.type <> 'batch' OR s.failed_before)`;
  const kernelFields = (exitCode: string) =>
    `jsonb_build_object('kernelId', k.id, 'clusterRole', k.cluster_role, 'clusterIdx', k.cluster_idx, 'exitCode', ${exitCode})`;
  const values = (rows: unknown[][], types: string[]) =>
    rows.map((r) => `(${r.map((v, i) => `${bind(v)}::${types[i]}`).join(', ')})`).join(', ');

  const sql = `
    WITH o AS MATERIALIZED (
      SELECT id, status_history, status_data, exit_code, result FROM sessions WHERE id = ${bind(sessionId)} FOR UPDATE
    ), s AS (
      UPDATE sessions n SET status = 'TERMINATED', updated_at = now(),
             status_history = n.status_history || ${bind(phaseHistory)}::jsonb || ${bind(JSON.stringify({ TERMINATED: at }))}::jsonb,
             status_info = ${bind(move.info)},
             status_data = n.status_data || ${bind(JSON.stringify(chain.data))}::jsonb || ${bind(JSON.stringify(move.data))}::jsonb,
             result = ${bind(move.result)}, exit_code = ${bind(move.exitCode)}, terminated_at = now(),
             started_at = ${bind(new Date(running.at))}::timestamptz
        FROM o
       WHERE n.id = o.id AND ${unindexedGuard(
         `n.status IN (${list(guard.from)}) AND n.agent_id = ${bind(guard.agentId)} AND n.attempt = ${bind(guard.attempt)}::int AND n.cluster_size = 1${
           guard.noRetryPolicy ? ' AND n.retry_policy IS NULL' : ''
         }`,
       )}
      RETURNING n.id, n.access_key, n.attempt, n.agent_id, n.started_at, n.terminated_at, n.exit_code, n.result,
                n.status_info, n.name, n.status, n.type, n.schedule_name, n.scheduled_for, n.callback_url,
                n.status_history, n.status_data, (n.status_history -> 'ERROR') IS NOT NULL AS failed_before,
                n.scaling_group, n.created_at, o.status_history AS was_history, o.status_data AS was_data,
                o.exit_code AS was_exit_code, o.result AS was_result
    ), p AS (
      SELECT s.id, s.access_key, s.name, s.schedule_name, s.scheduled_for, s.callback_url,
             ${bind(running.status)}::text AS status, NULL::text AS status_info, s.was_result AS result,
             s.was_exit_code AS exit_code, s.was_history || ${bind(phaseHistory)}::jsonb AS status_history,
             s.was_data || ${bind(JSON.stringify(chain.data))}::jsonb AS status_data
        FROM s
    ), old AS (
      SELECT k.id, k.status AS from_status, k.exit_code AS was_exit_code FROM kernels k
       WHERE k.session_id = ${bind(sessionId)} AND k.id = ${bind(exit.kernelId)} AND EXISTS (SELECT 1 FROM s)
         FOR UPDATE
    ), mv AS (
      SELECT old.*, v.final, v.hist, v.started_at, coalesce(v.final, old.from_status) IN (${list(ends)}) AS ends
        FROM old LEFT JOIN (VALUES ${
          kernelPhases.length === 0
            ? '(NULL::text, NULL::text, NULL::jsonb, NULL::timestamptz)'
            : spliced(kernelMoveValues(kernelPhases))
        }) AS v (from_status, final, hist, started_at) ON v.from_status = old.from_status
    ), k AS (
      UPDATE kernels k SET
             status = CASE WHEN mv.ends THEN 'TERMINATED' ELSE coalesce(mv.final, k.status) END,
             status_info = CASE WHEN mv.ends THEN ${bind(move.info)}::text WHEN mv.final IS NOT NULL THEN NULL ELSE k.status_info END,
             status_history = k.status_history || coalesce(mv.hist, '{}'::jsonb)
               || CASE WHEN mv.ends THEN ${bind(JSON.stringify({ TERMINATED: at }))}::jsonb ELSE '{}'::jsonb END,
             started_at = coalesce(${bind(exit.startedAt)}::timestamptz, mv.started_at, k.started_at),
             container_id = CASE WHEN mv.started_at IS NULL THEN k.container_id
               ELSE coalesce(${bind(container)}::text, k.container_id) END,
             exit_code = ${bind(exit.exitCode)}::int, logs = ${bind(exit.logs)}::text,
             logs_truncated = ${bind(exit.logsTruncated)}::boolean, logs_bytes = ${bind(exit.logsBytes)}::bigint,
             terminated_at = CASE WHEN mv.ends THEN now() ELSE k.terminated_at END
        FROM mv
       WHERE k.id = mv.id
      RETURNING k.id, k.cluster_role, k.cluster_idx, k.exit_code, mv.from_status, mv.was_exit_code, mv.ends
    ), e AS (
      INSERT INTO session_events (session_id, kernel_id, access_key, name, data)
      SELECT x.session_id, x.kernel_id, x.access_key, x.name, x.data FROM (${[
        ...(kernelEvents.length > 0
          ? [
              `SELECT 0 AS grp, ph.step, 0 AS part, p.id AS session_id, p.access_key, k.id AS kernel_id, ph.name,
                 ${eventDataSql('p')} || jsonb_build_object('status', ph.status)
                   || ${kernelFields('coalesce(k.was_exit_code, p.exit_code)')} AS data
            FROM p, k JOIN (VALUES ${values(kernelEvents, ['text', 'int', 'text', 'text'])})
                 AS ph (from_status, step, name, status) ON ph.from_status = k.from_status`,
            ]
          : []),
        ...(phaseEvents.length > 0
          ? [
              `SELECT 0 AS grp, v.step, 1 AS part, p.id AS session_id, p.access_key, NULL::uuid AS kernel_id, v.name,
                 ${eventDataSql('p')} || jsonb_build_object('status', v.status) AS data
            FROM p, (VALUES ${values(phaseEvents, ['int', 'text', 'text'])}) AS v (step, name, status)`,
            ]
          : []),
        `SELECT 1 AS grp, 0 AS step, 0 AS part, s.id AS session_id, s.access_key, k.id AS kernel_id,
                 ${bind(kernelEnd)}::text AS name,
                 ${eventDataSql('s')} || ${kernelFields('coalesce(k.exit_code, s.exit_code)')} AS data
            FROM s, k WHERE k.ends AND ${bind(kernelEnd)}::text IS NOT NULL`,
        `SELECT 1 AS grp, v.n AS step, 1 AS part, s.id AS session_id, s.access_key, NULL::uuid AS kernel_id,
                 v.name, ${eventDataSql('s')} AS data
            FROM s, (VALUES (0, ${bind(resultEvent)}::text, true), (1, ${bind(terminated)}::text, false))
                 AS v (n, name, result_event)
           WHERE v.name IS NOT NULL AND NOT (v.result_event AND ${resultSkipped})`,
      ].join(' UNION ALL ')}) x
       ORDER BY x.grp, x.step, x.part
      ${EVENT_RETURNING}
    ), a AS (
      INSERT INTO session_attempts (session_id, attempt, agent_id, started_at, ended_at, exit_code, result, reason)
      SELECT id, attempt, agent_id, started_at, terminated_at, exit_code, result, status_info
        FROM s WHERE agent_id IS NOT NULL
      ON CONFLICT (session_id, attempt) DO NOTHING
    ), w AS (
      INSERT INTO webhook_deliveries (session_id, url, access_key, body)
      SELECT x.id, x.callback_url, x.access_key, x.body FROM (${[
        ...(phaseCallbacks.length > 0
          ? [
              `SELECT 0 AS grp, c.step AS n, p.id, p.callback_url, p.access_key,
                 ${callbackBodySql('p', 'c.event', 'c.status')} AS body
            FROM p, (VALUES ${values(phaseCallbacks, ['int', 'text', 'text'])}) AS c (step, event, status)
           WHERE p.callback_url IS NOT NULL`,
            ]
          : []),
        `SELECT 1 AS grp, c.n, s.id, s.callback_url, s.access_key, ${callbackBodySql('s', 'c.event', 's.status')} AS body
            FROM s, (VALUES (0, ${bind(callbackOf(resultEvent))}::text, true), (1, ${bind(callbackOf(terminated))}::text, false))
                 AS c (n, event, result_event)
           WHERE s.callback_url IS NOT NULL AND c.event IS NOT NULL AND NOT (c.result_event AND ${resultSkipped})`,
      ].join(' UNION ALL ')}) x
       ORDER BY x.grp, x.n
      RETURNING 1
    )
    SELECT count(*)::int AS moved, (SELECT count(*) FROM w)::int AS queued,
           min(scaling_group) AS scaling_group, min(created_at) AS created_at, ${spliced({ values: returned.sql, bindings: returned.bindings })} FROM s`;
  return { sql, bindings };
}

/** The held RUNNING's phases and the exit in one statement on its own (see above). */
export function runAndExitAlone(
  db: Db,
  sessionId: string,
  held: HeldExit,
  guard: RunExitGuard,
  wantEvents = false,
): Promise<PhasesAloneMoved | null> {
  return runAlone(db, 'runexit1', runExitStatement(sessionId, held, guard, wantEvents), held.chain);
}
