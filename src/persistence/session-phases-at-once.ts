import type { Knex } from 'knex';
import { kernelEventName } from '../domain/events.js';
import type { PhaseStep, SessionChain } from '../domain/phase-chain.js';
import { kernelChains } from '../domain/phase-chain.js';
import type { SessionStatus } from '../domain/status.js';
import type { Tx } from './db.js';
import { preparedRaw, statementName } from './prepared.js';
import type { SessionRow } from './rows.js';
import { eventData, sessionEventRows } from './session-events.js';
import type { PhasesMoved } from './session-phases.js';

/** The kernels' moves as VALUES rows (status before, status after, history, RUNNING time). */
export function kernelMoveValues(chains: readonly (readonly [SessionStatus, PhaseStep[]])[]): {
  values: string;
  bindings: Knex.RawBinding[];
} {
  const values = chains.map(() => '(?::text, ?::text, ?::jsonb, ?::timestamptz)').join(', ');
  const bindings = chains.flatMap(([from, steps]): Knex.RawBinding[] => {
    const ran = steps.find((m) => m.status === 'RUNNING');
    return [
      from,
      steps[steps.length - 1]!.status,
      JSON.stringify(Object.fromEntries(steps.map((m) => [m.status, new Date(m.at).toISOString()]))),
      ran ? new Date(ran.at) : null,
    ];
  });
  return { values, bindings };
}

/**
 * The locked row `s` as the phases' UPDATE leaves it (pure): the last status, every phase's
 * time in status_history, status_info cleared, the figures merged, started_at on RUNNING.
 */
export function phasedRowOf(s: SessionRow, chain: Pick<SessionChain, 'moved' | 'data'>): SessionRow {
  const running = chain.moved.find((m) => m.status === 'RUNNING');
  return {
    ...s,
    status: chain.moved[chain.moved.length - 1]!.status,
    status_history: {
      ...(s.status_history ?? {}),
      ...Object.fromEntries(chain.moved.map((m) => [m.status, new Date(m.at).toISOString()])),
    },
    status_info: null,
    status_data: { ...(s.status_data ?? {}), ...chain.data },
    started_at: running ? new Date(running.at) : s.started_at,
  };
}

/**
 * movePhasesIn (session-phases.ts) for a session without a callback_url, in ONE statement
 * where it was three: the session's UPDATE, its kernels' UPDATE and every phase's events as
 * data-modifying CTEs. What the UPDATE writes is known from the locked row, so the events are
 * built from it (no `RETURNING *`); the kernel events' rows come from the kernels that moved.
 * Events in the order the moves one by one wrote them: each phase's kernel events (main first,
 * then subs by index), then its session events. Null when the session did not move.
 */
export async function movePhasesAtOnce(
  trx: Tx,
  s: SessionRow,
  chain: Pick<SessionChain, 'moved' | 'data'>,
  containers: readonly { kernelId: string; containerId: string }[],
): Promise<PhasesMoved | null> {
  const row = phasedRowOf(s, chain);
  const last = chain.moved[chain.moved.length - 1]!;
  const running = chain.moved.find((m) => m.status === 'RUNNING');
  const history = Object.fromEntries(chain.moved.map((m) => [m.status, new Date(m.at).toISOString()]));
  const chains = [...kernelChains(chain.moved)];
  const kernelMoves = kernelMoveValues(chains);
  // Each phase's row: only its status differs from the last (no phase sets status_info,
  // exit_code or result, which the events carry).
  const at = (step: PhaseStep) => (step === last ? row : { ...row, status: step.status });
  // Which phases' kernel events a kernel that was in `from` writes, with each one's data.
  const kernelEvents = chains.flatMap(([from, steps]) =>
    steps.flatMap((step) => {
      const name = kernelEventName(step.status);
      return name ? [[from, chain.moved.indexOf(step), name, JSON.stringify(eventData(at(step), null))]] : [];
    }),
  );
  const sessionEvents = chain.moved.flatMap((step, i) =>
    sessionEventRows(at(step), step.status, null).events.map((e, n) => [i, n, e.name, e.data]),
  );
  const parts: string[] = [];
  const eventBindings: unknown[] = [];
  if (kernelEvents.length > 0 && chains.length > 0) {
    parts.push(`SELECT p.step, 0 AS part, k.cluster_role AS role, k.cluster_idx AS idx, k.id AS kernel_id, p.name,
           p.base || jsonb_build_object('kernelId', k.id, 'clusterRole', k.cluster_role,
             'clusterIdx', k.cluster_idx, 'exitCode', coalesce(k.exit_code, ?::int)) AS data
      FROM k JOIN (VALUES ${kernelEvents.map(() => '(?::text, ?::int, ?::text, ?::jsonb)').join(', ')})
           AS p (from_status, step, name, base) ON p.from_status = k.from_status`);
    eventBindings.push(row.exit_code, ...kernelEvents.flat());
  }
  if (sessionEvents.length > 0) {
    parts.push(`SELECT v.step, 1 AS part, NULL::text AS role, v.n AS idx, NULL::uuid AS kernel_id, v.name, v.data
      FROM (VALUES ${sessionEvents.map(() => '(?::int, ?::int, ?::text, ?::jsonb)').join(', ')})
           AS v (step, n, name, data) WHERE EXISTS (SELECT 1 FROM s)`);
    eventBindings.push(...sessionEvents.flat());
  }
  const kernelCte =
    chains.length === 0
      ? ''
      : `, k AS (
      UPDATE kernels k SET status = v.final, status_info = NULL,
             status_history = k.status_history || v.hist,
             started_at = coalesce(v.started_at, k.started_at),
             container_id = CASE WHEN v.started_at IS NULL THEN k.container_id
               ELSE coalesce((SELECT c.container_id FROM jsonb_to_recordset(?::jsonb) AS c(id uuid, container_id text)
                               WHERE c.id = k.id), k.container_id) END
        FROM (VALUES ${kernelMoves.values}) AS v(from_status, final, hist, started_at)
       WHERE k.session_id = ? AND k.status = v.from_status AND EXISTS (SELECT 1 FROM s)
      RETURNING k.id, k.cluster_role, k.cluster_idx, k.exit_code, v.from_status
    )`;
  const sql = `
    WITH s AS (
      UPDATE sessions SET status = ?, updated_at = now(), status_history = status_history || ?::jsonb,
             status_info = NULL, status_data = status_data || ?::jsonb${running ? ', started_at = ?::timestamptz' : ''}
       WHERE id = ? AND status = ?
      RETURNING id
    )${kernelCte}${
      parts.length === 0
        ? ''
        : `, e AS (
      INSERT INTO session_events (session_id, kernel_id, access_key, name, data)
      SELECT ?::uuid, kernel_id, ?, name, data FROM (${parts.join(' UNION ALL ')}) x
       ORDER BY step, part, role COLLATE "C", idx
    )`
    }
    SELECT count(*)::int AS moved FROM s`;
  const bindings: unknown[] = [
    last.status,
    JSON.stringify(history),
    JSON.stringify(chain.data),
    ...(running ? [new Date(running.at)] : []),
    s.id,
    s.status,
    ...(chains.length === 0
      ? []
      : [
          JSON.stringify(containers.map((c) => ({ id: c.kernelId, container_id: c.containerId }))),
          ...kernelMoves.bindings,
          s.id,
        ]),
    ...(parts.length === 0 ? [] : [s.id, s.access_key, ...eventBindings]),
  ];
  const { rows } = (await preparedRaw(
    trx,
    statementName('phases', sql),
    sql,
    bindings as Knex.RawBinding[],
  )) as {
    rows: { moved: number }[];
  };
  if ((rows[0]?.moved ?? 0) === 0) return null;
  return { session: row, startedAt: running ? running.at : null };
}
