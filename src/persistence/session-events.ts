import type { Knex } from 'knex';
import { callbackEventOf, kernelEventName, resultEventName, sessionEventName } from '../domain/events.js';
import type { SessionStatus } from '../domain/status.js';
import type { KernelRow, SessionRow } from './rows.js';

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
    `'scheduleName', ${alias}.schedule_name, 'scheduledFor', ` +
    `to_char(${alias}.scheduled_for AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) END`;
  return `(jsonb_build_object('reason', coalesce(${alias}.status_info, ''), ${fields}) || ${schedule})`;
}

/** A row of session_events as a move writes it. */
export interface EventRow {
  session_id: string;
  kernel_id: string | null;
  access_key: string;
  name: string;
  data: string;
}

/** A callback delivery (webhook_deliveries) a session event calls for. */
interface DeliveryRow {
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
      body: JSON.stringify({
        type: 'session_lifecycle',
        event,
        session_id: session.id,
        session_name: session.name,
        when: new Date().toISOString(),
        status: session.status,
        status_history: session.status_history,
        result: session.result,
        exit_code: session.exit_code,
        status_info: session.status_info,
        status_data: session.status_data,
      }),
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
