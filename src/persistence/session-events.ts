import type { Knex } from 'knex';
import { callbackEventOf, kernelEventName, resultEventName, sessionEventName } from '../domain/events.js';
import type { SessionStatus } from '../domain/status.js';
import type { KernelRow, SessionEventRow, SessionRow } from './rows.js';
import { isoSql } from './scheduler-sql.js';

/**
 * The data of a session event, field by field: the event's key and the session column it
 * reads. `reason` comes first (the transition's status_info, else the row's, else ''). Both
 * the JS writer (eventData) and the SQL one (eventDataSql, for the one-statement submit) are
 * built from this list, so the two cannot drift apart.
 */
const EVENT_FIELDS = [
  ['sessionName', 'name'],
  ['ownerAccessKey', 'access_key'],
  ['sessionId', 'id'],
  ['exitCode', 'exit_code'],
  ['status', 'status'],
  ['result', 'result'],
] as const satisfies readonly (readonly [string, keyof SessionRow])[];

/** A session event's data, as the row `session` stands (`info`: the move's status_info). */
export function eventData(session: SessionRow, info: string | null): Record<string, unknown> {
  const out: Record<string, unknown> = { reason: info ?? session.status_info ?? '' };
  for (const [key, column] of EVENT_FIELDS) out[key] = session[column];
  // A schedule's session says which schedule and instant (docs/schedules.md); others carry neither.
  if (session.schedule_name) {
    out.scheduleName = session.schedule_name;
    out.scheduledFor = session.scheduled_for?.toISOString() ?? null;
  }
  return out;
}

/** eventData as a PostgreSQL expression over the session row aliased `alias` (info: none). */
export function eventDataSql(alias: string): string {
  const fields = EVENT_FIELDS.map(([key, column]) => `'${key}', ${alias}.${column}`).join(', ');
  const schedule =
    `CASE WHEN ${alias}.schedule_name IS NULL THEN '{}'::jsonb ELSE jsonb_build_object(` +
    `'scheduleName', ${alias}.schedule_name, 'scheduledFor', ${isoSql(`${alias}.scheduled_for`)}) END`;
  return `(jsonb_build_object('reason', coalesce(${alias}.status_info, ''), ${fields}) || ${schedule})`;
}

/**
 * A callback body's fields after `type` and `event`, in order, and the session column each
 * reads (`when`: the time it is queued). Both the JS body (callbackBody) and the SQL one
 * (callbackBodySql, for the statements that build their events in SQL) are built from it.
 */
const CALLBACK_FIELDS = [
  ['session_id', 'id'],
  ['session_name', 'name'],
  ['when', null],
  ['status', 'status'],
  ['status_history', 'status_history'],
  ['result', 'result'],
  ['exit_code', 'exit_code'],
  ['status_info', 'status_info'],
  ['status_data', 'status_data'],
] as const satisfies readonly (readonly [string, keyof SessionRow | null])[];

/** The body of callback `event` (Backend.AI's `session_lifecycle` webhook) of the row `session`. */
function callbackBody(session: SessionRow, event: string): string {
  const out: Record<string, unknown> = { type: 'session_lifecycle', event };
  for (const [key, column] of CALLBACK_FIELDS)
    out[key] = column === null ? new Date().toISOString() : session[column];
  return JSON.stringify(out);
}

/**
 * callbackBody as a PostgreSQL expression over the session row aliased `alias`, the callback
 * event's name read from `event` and the status from `status`. json, not jsonb: the keys keep
 * callbackBody's order (the text differs in its spaces only).
 */
export function callbackBodySql(alias: string, event: string, status: string): string {
  const fields = CALLBACK_FIELDS.map(
    ([key, column]) =>
      `'${key}', ${column === null ? isoSql('now()') : column === 'status' ? status : `${alias}.${column}`}`,
  );
  return `json_build_object('type', 'session_lifecycle', 'event', ${event}, ${fields.join(', ')})::text`;
}

/**
 * A data-modifying CTE's body: the callback deliveries of the session rows aliased `alias` in
 * `from` (which returned callback_url, access_key and CALLBACK_FIELDS' columns), built by
 * PostgreSQL, for those with a callback_url and a callback event (`event`, a column or a
 * literal, read twice, never a placeholder; NULL: none), in the order `order`. It returns a
 * row per delivery, so the statement can say whether it queued any.
 */
export function callbackDeliveriesSql(
  from: string,
  alias: string,
  event: string,
  order: string,
  more: { status?: string; where?: string } = {},
): string {
  const body = callbackBodySql(alias, event, more.status ?? `${alias}.status`);
  return `INSERT INTO webhook_deliveries (session_id, url, access_key, body)
      SELECT ${alias}.id, ${alias}.callback_url, ${alias}.access_key, ${body}
        FROM ${from}
       WHERE ${alias}.callback_url IS NOT NULL AND ${event} IS NOT NULL${more.where ? ` AND ${more.where}` : ''}
       ORDER BY ${order}
      RETURNING 1`;
}

/**
 * Deliveries built in JS (sessionEventRows), as a data-modifying CTE's body that writes them in
 * order only if `gate` (a CTE of the statement) has a row; null when there are none.
 */
export function deliveryValuesSql(
  gate: string,
  deliveries: readonly DeliveryRow[],
): { sql: string; bindings: unknown[] } | null {
  if (deliveries.length === 0) return null;
  return {
    sql: `INSERT INTO webhook_deliveries (session_id, url, access_key, body)
      SELECT v.session_id, v.url, v.access_key, v.body
        FROM (VALUES ${deliveries.map((_, i) => `(${i}, ?::uuid, ?::text, ?::text, ?::text)`).join(', ')})
             AS v (n, session_id, url, access_key, body)
       WHERE EXISTS (SELECT 1 FROM ${gate})
       ORDER BY v.n
      RETURNING 1`,
    bindings: deliveries.flatMap((d) => [d.session_id, d.url, d.access_key, d.body]),
  };
}

/** A row of session_events as a move writes it. */
export interface EventRow {
  session_id: string;
  kernel_id: string | null;
  access_key: string;
  name: string;
  data: string;
}

/** What a statement on its own returns when it may queue callback deliveries (SessionStore.alone). */
export interface QueuedCallbacks {
  /** It wrote deliveries: the webhook sender is told. */
  callbacksQueued: boolean;
  /**
   * The events it wrote, in id order, when they were asked for (someone listens): the event
   * hub hands them out without reading them back (EventTail.offer).
   */
  events?: readonly SessionEventRow[];
}

/** The columns of an event row, as an `e` CTE that inserts events returns them for eventsSql. */
export const EVENT_RETURNING = 'RETURNING id, session_id, kernel_id, access_key, name, data, created_at';

/**
 * The final SELECT's `events` column: the rows the CTE `cte` inserted (returned with
 * EVENT_RETURNING), as JSON in id order, when `wanted`; else NULL, nothing built (a drain
 * nobody follows pays nothing for it). A bound flag, so the statement's text and plan are one.
 */
export function eventsSql(cte: string | null, wanted: boolean): { sql: string; bindings: unknown[] } {
  if (cte === null) return { sql: 'NULL::json AS events', bindings: [] };
  return {
    sql: `CASE WHEN ?::boolean THEN (SELECT json_agg(${cte} ORDER BY ${cte}.id) FROM ${cte}) END AS events`,
    bindings: [wanted],
  };
}

/** The `events` column of eventsSql, as the `events` of what the statement returns (none when not asked for). */
export function returnedEvents(v: unknown): { events?: SessionEventRow[] } {
  if (!Array.isArray(v)) return {};
  // JSON: the ids as numbers already, the times as text.
  const rows = v as (Omit<SessionEventRow, 'created_at'> & { created_at: string })[];
  return { events: rows.map((e) => ({ ...e, id: Number(e.id), created_at: new Date(e.created_at) })) };
}

/** A callback delivery (webhook_deliveries) a session event calls for. */
export interface DeliveryRow {
  session_id: string;
  url: string | null;
  access_key: string;
  body: string;
}

/**
 * The kernel_* events of kernels that moved to `to` with their session (none if it has no
 * name). A kernel without an exit code of its own (a sub stopped when the main ended) carries
 * its session's.
 */
export function kernelEventRows(
  session: SessionRow,
  kernels: Pick<KernelRow, 'id' | 'cluster_role' | 'cluster_idx' | 'exit_code'>[],
  to: SessionStatus,
  info: string | null,
): EventRow[] {
  const name = kernelEventName(to);
  if (!name) return [];
  return kernels.map((k) => ({
    session_id: session.id,
    kernel_id: k.id,
    access_key: session.access_key,
    name,
    data: JSON.stringify({
      ...eventData(session, info),
      kernelId: k.id,
      clusterRole: k.cluster_role,
      clusterIdx: k.cluster_idx,
      exitCode: k.exit_code ?? session.exit_code,
    }),
  }));
}

/**
 * The session_* events of a session that entered `status`, with the callback_url deliveries
 * they call for. A batch session that ended TERMINATED announces its result first
 * (session_success / session_failure, then session_terminated), as Backend.AI does: its CLI's
 * `watch` stops at session_terminated and must have seen the result by then.
 */
export function sessionEventRows(
  session: SessionRow,
  status: SessionStatus,
  info: string | null,
): { events: EventRow[]; deliveries: DeliveryRow[] } {
  const names: string[] = [];
  // A session that went through ERROR announced its failure there (ERROR leads only to the
  // end, never back to PENDING): its TERMINATED does not announce it twice.
  const failedBefore = status === 'TERMINATED' && 'ERROR' in (session.status_history ?? {});
  if (status === 'TERMINATED' && session.type === 'batch' && !failedBefore) {
    const r = resultEventName(session.result);
    if (r) names.push(r);
  }
  const primary = sessionEventName(status);
  if (primary) names.push(primary);
  if (names.length === 0) return { events: [], deliveries: [] };
  const data = JSON.stringify(eventData(session, info));
  const events = names.map((name) => ({
    session_id: session.id,
    kernel_id: null,
    access_key: session.access_key,
    name,
    data,
  }));
  if (!session.callback_url) return { events, deliveries: [] };
  const deliveries = names
    .map((name) => callbackEventOf(name))
    .filter((e): e is string => e !== undefined)
    .map((event) => ({
      session_id: session.id,
      url: session.callback_url,
      access_key: session.access_key,
      body: callbackBody(session, event),
    }));
  return { events, deliveries };
}

/**
 * Writes events in ONE INSERT, so their ids (the order of the stream, of Last-Event-ID replay
 * and of callbacks) follow the list, and the deliveries they call for.
 */
export async function insertEvents(
  trx: Knex.Transaction | Knex,
  events: EventRow[],
  deliveries: DeliveryRow[] = [],
): Promise<void> {
  if (events.length > 0) await trx('session_events').insert(events);
  if (deliveries.length > 0) await trx('webhook_deliveries').insert(deliveries);
}

/** The session_* events of a session that entered `status` (sessionEventRows), written. */
export async function recordSessionEvents(
  trx: Knex.Transaction | Knex,
  session: SessionRow,
  status: SessionStatus,
  info: string | null,
): Promise<void> {
  const { events, deliveries } = sessionEventRows(session, status, info);
  await insertEvents(trx, events, deliveries);
}
