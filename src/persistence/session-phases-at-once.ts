import type { Knex } from 'knex';
import { callbackEventOf, kernelEventName, sessionEventName } from '../domain/events.js';
import type { PhaseStep, SessionChain } from '../domain/phase-chain.js';
import { kernelChains } from '../domain/phase-chain.js';
import type { SessionStatus } from '../domain/status.js';
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
  type QueuedCallbacks,
} from './session-events.js';
import type { PhasesMoved } from './session-phases.js';

/** The status_history entries of phases: each status with its time. */
export function historyOf(steps: readonly PhaseStep[]): Record<string, string> {
  return Object.fromEntries(steps.map((m) => [m.status, new Date(m.at).toISOString()]));
}

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
      JSON.stringify(historyOf(steps)),
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
      ...historyOf(chain.moved),
    },
    status_info: null,
    status_data: { ...(s.status_data ?? {}), ...chain.data },
    started_at: running ? new Date(running.at) : s.started_at,
  };
}

/**
 * What the phases' statement run on its own (no lock read, no transaction) requires of the
 * session row: its attempt on the sender and a status among `from` (each of
 * which the phases all move from alike, see chainFromAny in phase-chain.ts).
 */
export interface PhasesGuard {
  agentId: string;
  attempt: number;
  from: readonly SessionStatus[];
}

/** What the statement on its own tells of the session that moved (for its start latency). */
export interface PhasesAloneMoved extends QueuedCallbacks {
  startedAt: number | null;
  scalingGroup: string;
  createdAt: Date;
}

/**
 * The phases' statement. `locked`: the row the caller locked, whose events are built in JS;
 * else the guarded form, whose events are built in SQL from the row the UPDATE returns.
 */
function phasesStatement(
  sessionId: string,
  chain: Pick<SessionChain, 'moved' | 'data'>,
  containers: readonly { kernelId: string; containerId: string }[],
  target: { locked: SessionRow } | { guard: PhasesGuard },
  wantEvents = false,
): { sql: string; bindings: unknown[] } {
  const locked = 'locked' in target ? target.locked : null;
  const guard = 'guard' in target ? target.guard : null;
  const row = locked ? phasedRowOf(locked, chain) : null;
  const last = chain.moved[chain.moved.length - 1]!;
  const running = chain.moved.find((m) => m.status === 'RUNNING');
  const history = historyOf(chain.moved);
  const chains = [...kernelChains(chain.moved)];
  const kernelMoves = kernelMoveValues(chains);
  // Each phase's row: only its status differs from the last (no phase sets status_info,
  // exit_code or result, which the events carry). In SQL: the returned row, its status set.
  const at = (step: PhaseStep) => (step === last ? row! : { ...row!, status: step.status });
  const base = (status: SessionStatus) =>
    row ? JSON.stringify(eventData(at(stepOf(chain, status)), null)) : status;
  const baseSql = (col: string) =>
    row ? col : `(${eventDataSql('s')} || jsonb_build_object('status', ${col}))`;
  // Which phases' kernel events a kernel that was in `from` writes, with each one's data.
  const kernelEvents = chains.flatMap(([from, steps]) =>
    steps.flatMap((step) => {
      const name = kernelEventName(step.status);
      return name ? [[from, chain.moved.indexOf(step), name, base(step.status)]] : [];
    }),
  );
  const own = row ? chain.moved.map((step) => sessionEventRows(at(step), step.status, null)) : null;
  const sessionEvents = chain.moved.flatMap((step, i) =>
    own
      ? own[i]!.events.map((e, n) => [i, n, e.name, e.data])
      : [sessionEventName(step.status)].flatMap((name) => (name ? [[i, 0, name, step.status]] : [])),
  );
  // The callback deliveries: given from the locked row, or built in SQL from the returned row
  // (callbackDeliveriesSql), each phase's with its own status, for the phases that call for one.
  const callbacks = chain.moved.flatMap((step, i) => {
    const name = sessionEventName(step.status);
    const event = name && callbackEventOf(name);
    return event ? [[i, event, step.status]] : [];
  });
  const deliveries = own
    ? deliveryValuesSql(
        's',
        own.flatMap((o) => o.deliveries),
      )
    : callbacks.length === 0
      ? null
      : {
          sql: callbackDeliveriesSql(
            `s, (VALUES ${callbacks.map(() => '(?::int, ?::text, ?::text)').join(', ')}) AS c (step, event, status)`,
            's',
            'c.event',
            'c.step',
            { status: 'c.status' },
          ),
          bindings: callbacks.flat(),
        };
  const parts: string[] = [];
  const eventBindings: unknown[] = [];
  if (kernelEvents.length > 0 && chains.length > 0) {
    parts.push(`SELECT p.step, 0 AS part, k.cluster_role AS role, k.cluster_idx AS idx, k.id AS kernel_id, p.name,
           ${baseSql('p.base')} || jsonb_build_object('kernelId', k.id, 'clusterRole', k.cluster_role,
             'clusterIdx', k.cluster_idx, 'exitCode', coalesce(k.exit_code, s.exit_code)) AS data
      FROM s, k JOIN (VALUES ${kernelEvents.map(() => `(?::text, ?::int, ?::text, ?::${row ? 'jsonb' : 'text'})`).join(', ')})
           AS p (from_status, step, name, base) ON p.from_status = k.from_status`);
    eventBindings.push(...kernelEvents.flat());
  }
  if (sessionEvents.length > 0) {
    parts.push(`SELECT v.step, 1 AS part, NULL::text AS role, v.n AS idx, NULL::uuid AS kernel_id, v.name,
           ${baseSql('v.data')} AS data
      FROM s, (VALUES ${sessionEvents.map(() => `(?::int, ?::int, ?::text, ?::${row ? 'jsonb' : 'text'})`).join(', ')})
           AS v (step, n, name, data)`);
    eventBindings.push(...sessionEvents.flat());
  }
  // On its own, the statement's snapshot predates its wait on the session's lock: the kernels'
  // statuses are read locked (their current row, not the snapshot's) once the session moved.
  const kernelCte =
    chains.length === 0
      ? ''
      : `${
          guard
            ? `, kc AS (
      SELECT k.id, k.status FROM kernels k WHERE k.session_id = ? AND EXISTS (SELECT 1 FROM s) FOR UPDATE
    )`
            : ''
        }, k AS (
      UPDATE kernels k SET status = v.final, status_info = NULL,
             status_history = k.status_history || v.hist,
             started_at = coalesce(v.started_at, k.started_at),
             container_id = CASE WHEN v.started_at IS NULL THEN k.container_id
               ELSE coalesce((SELECT c.container_id FROM jsonb_to_recordset(?::jsonb) AS c(id uuid, container_id text)
                               WHERE c.id = k.id), k.container_id) END
        FROM ${guard ? 'kc, ' : ''}(VALUES ${kernelMoves.values}) AS v(from_status, final, hist, started_at)
       WHERE ${
         guard
           ? 'k.id = kc.id AND kc.status = v.from_status'
           : 'k.session_id = ? AND k.status = v.from_status AND EXISTS (SELECT 1 FROM s)'
       }
      RETURNING k.id, k.cluster_role, k.cluster_idx, k.exit_code, v.from_status
    )`;
  const inList = (n: number) => Array.from({ length: n }, () => '?').join(', ');
  // On its own (guarded), the events it wrote come back when asked for (eventsSql).
  const events = eventsSql(guard && parts.length > 0 ? 'e' : null, wantEvents);
  const sql = `
    WITH s AS (
      UPDATE sessions SET status = ?, updated_at = now(), status_history = status_history || ?::jsonb,
             status_info = NULL, status_data = status_data || ?::jsonb${running ? ', started_at = ?::timestamptz' : ''}
       WHERE id = ? AND ${
         guard
           ? unindexedGuard(`status IN (${inList(guard.from.length)}) AND agent_id = ? AND attempt = ?::int`)
           : 'status = ?'
       }
      RETURNING id, access_key, exit_code${
        guard
          ? `, name, status, result, status_info, schedule_name, scheduled_for, scaling_group, created_at,
               callback_url, status_history, status_data`
          : ''
      }
    )${kernelCte}${
      parts.length === 0
        ? ''
        : `, e AS (
      INSERT INTO session_events (session_id, kernel_id, access_key, name, data)
      SELECT s.id, x.kernel_id, s.access_key, x.name, x.data FROM s, (${parts.join(' UNION ALL ')}) x
       ORDER BY step, part, role COLLATE "C", idx
      ${guard ? EVENT_RETURNING : ''}
    )`
    }${deliveries ? `, w AS (${deliveries.sql})` : ''}
    SELECT count(*)::int AS moved, ${deliveries ? '(SELECT count(*) FROM w)::int' : '0'} AS queued${
      guard ? ', min(scaling_group) AS scaling_group, min(created_at) AS created_at' : ''
    }, ${events.sql} FROM s`;
  const bindings: unknown[] = [
    last.status,
    JSON.stringify(history),
    JSON.stringify(chain.data),
    ...(running ? [new Date(running.at)] : []),
    sessionId,
    ...(guard ? [...guard.from, guard.agentId, guard.attempt] : [locked!.status]),
    ...(chains.length === 0
      ? []
      : [
          ...(guard ? [sessionId] : []),
          JSON.stringify(containers.map((c) => ({ id: c.kernelId, container_id: c.containerId }))),
          ...kernelMoves.bindings,
          ...(guard ? [] : [sessionId]),
        ]),
    ...eventBindings,
    ...(deliveries?.bindings ?? []),
    ...events.bindings,
  ];
  return { sql, bindings };
}

function stepOf(chain: Pick<SessionChain, 'moved'>, status: SessionStatus): PhaseStep {
  return chain.moved.find((m) => m.status === status)!;
}

/**
 * movePhasesIn (session-phases.ts) in ONE statement where it was three: the session's UPDATE,
 * its kernels' UPDATE, every phase's events and callback deliveries as data-modifying CTEs.
 * What the UPDATE writes is known from the locked row, so the events and deliveries are built
 * from it (no `RETURNING *`); the kernel events' rows come from the kernels that moved.
 * Events in the order the moves one by one wrote them: each phase's kernel events (main first,
 * then subs by index), then its session events. Null when the session did not move.
 */
export async function movePhasesAtOnce(
  trx: Tx,
  s: SessionRow,
  chain: Pick<SessionChain, 'moved' | 'data'>,
  containers: readonly { kernelId: string; containerId: string }[],
): Promise<PhasesMoved | null> {
  const statement = phasesStatement(s.id, chain, containers, { locked: s });
  const rows = await preparedRows<{ moved: number }>(trx, 'phases', statement);
  if ((rows[0]?.moved ?? 0) === 0) return null;
  const running = chain.moved.find((m) => m.status === 'RUNNING');
  return { session: phasedRowOf(s, chain), startedAt: running ? running.at : null };
}

/**
 * The same phases as ONE statement on its own: no transaction around it, no lock read before
 * it (one round trip where there were four). The session's UPDATE takes its row lock first and
 * carries the checks the handler made on the locked row (PhasesGuard); the kernels are read
 * locked after it; the events and callback deliveries are built in SQL from the row it returns
 * (eventDataSql and callbackDeliveriesSql, the same fields as sessionEventRows), each phase's
 * with its own status. When the guard refuses, NOTHING is written and null comes back: the
 * caller takes the transaction.
 */
export async function movePhasesAlone(
  db: Db,
  sessionId: string,
  chain: Pick<SessionChain, 'moved' | 'data'>,
  containers: readonly { kernelId: string; containerId: string }[],
  guard: PhasesGuard,
  wantEvents = false,
): Promise<PhasesAloneMoved | null> {
  return runAlone(db, 'phases1', phasesStatement(sessionId, chain, containers, { guard }, wantEvents), chain);
}

/**
 * Runs a statement on its own that moves a session through `chain` (and maybe on) and returns
 * `moved`, `queued`, `scaling_group` and `created_at`: what it tells of the session, or null
 * when its guard refused.
 */
export async function runAlone(
  db: Db,
  prefix: string,
  statement: { sql: string; bindings: unknown[] },
  chain: Pick<SessionChain, 'moved'>,
): Promise<PhasesAloneMoved | null> {
  const rows = await preparedRows<{
    moved: number;
    queued: number;
    scaling_group: string;
    created_at: Date;
    events: unknown;
  }>(db, prefix, statement);
  const r = rows[0];
  if (!r || r.moved === 0) return null;
  const running = chain.moved.find((m) => m.status === 'RUNNING');
  return {
    startedAt: running ? running.at : null,
    scalingGroup: r.scaling_group,
    createdAt: r.created_at,
    callbacksQueued: r.queued > 0,
    ...returnedEvents(r.events),
  };
}
