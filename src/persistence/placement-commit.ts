import type { Knex } from 'knex';
import { freeOf, runsArch, type AgentCapacity } from '../domain/placement.js';
import { addSlots, fits, scaleSlots, subtractSlots, type Slots } from '../domain/resources.js';
import { sessionEventName } from '../domain/events.js';
import { ACTIVE_STATUSES, predecessorsOf } from '../domain/status.js';
import type { Db } from './db.js';
import { preparedRaw } from './prepared.js';
import {
  byClusterPosition,
  PLACED_SESSION_COLUMNS,
  type AgentRow,
  type PlacedKernel,
  type PlacedSession,
} from './rows.js';
import { AGENT_HELD_SQL, type AgentSurveyRow } from './scheduler-sql.js';
import { sqlList, sqlText } from './sql-literals.js';
import { eventDataSql } from './session-events.js';
import { unindexedGuard } from './unindexed-guard.js';
import type { SessionStore } from './session-store.js';

/** What placement reads of a runnable session (the runnable scan's columns, not the whole row). */
export interface RunnableSession {
  id: string;
  requested_slots: Slots;
  cluster_size: number;
  architecture: string | null;
  /** status_data.predicates as stored (the pass rewrites them only when they change). */
  predicates: unknown;
  /** Which image it runs (read ahead while the placement commits). */
  domain_name: string;
  image: string;
}

/** A placed session and its kernels (main first, then subs by index), as its run job needs them. */
export interface Placed {
  session: PlacedSession;
  kernels: PlacedKernel[];
}

/**
 * What a placement reads of the agent, in one snapshot and with no lock: its slots, its
 * architecture, its count of committed placements (the guard of PLACE_SQL) and what its live
 * kernels hold. Null when the agent is not ALIVE.
 */
const READ_AGENT_SQL = `SELECT a.id, a.available_slots AS total, a.architecture, a.placements, ${AGENT_HELD_SQL} AS held
  FROM agents a
 WHERE a.id = (SELECT ?::text) AND a.status = 'ALIVE'`;

/** The moves' guards, as the moves one by one had them: the session only from PENDING, its kernels from any predecessor. */
const SESSION_FROM = predecessorsOf('SCHEDULED').filter((s) => s === 'PENDING');
const KERNEL_FROM = predecessorsOf('SCHEDULED');

/**
 * Moves sessions PENDING → SCHEDULED on one agent with their kernels and their events, in ONE
 * statement where each session took three (the guarded UPDATE of the session, its kernels',
 * the INSERT of its event): data-modifying CTEs, with no transaction around them. One text for
 * any number of sessions (their ids as an array, in the order placed), so it is parsed once
 * per connection; the values a plan could hinge on are read through sub-selects, so the
 * generic plan is the custom one.
 *
 * The guard `lk`: the agent row, still ALIVE with the slots and the count of placements the
 * caller decided on, is updated (the count bumped). Every placement bumps it, so when another
 * placement on the agent committed since the caller's reading, the count differs and nothing
 * moves: the caller reads again. When one is committing meanwhile, this UPDATE waits for its
 * row lock and then sees the committed row (PostgreSQL re-checks the row's conditions on its
 * latest version). Kernels that ended since the reading only free room. Under the agent's row
 * lock, then, what the caller counted is what the agent holds, or more.
 * The same guards on each session and kernel as the moves one by one (only from PENDING), each
 * matching no index (unindexedGuard): the sessions are read by id and their kernels by session,
 * where a plan from statistics that saw few PENDING sessions read every PENDING session and
 * kernel through a status index on every placement (docs/benchmarks.md, round twenty-two). The
 * event written is what sessionEventRows writes for SCHEDULED (no kernel event), its data built
 * from the moved row (eventDataSql), one per session in the order given. SCHEDULED calls for
 * no callback (callbackEventOf), so a session with a callback_url is placed like any other,
 * with no delivery to write.
 */
const PLACE_SQL = `WITH lk AS MATERIALIZED (
    UPDATE agents a SET placements = a.placements + 1
     WHERE a.id = (SELECT ?::text) AND a.status = 'ALIVE' AND a.placements = (SELECT ?::bigint)
       AND a.available_slots = (SELECT ?::jsonb)
    RETURNING true AS ok
  ), v AS (
    SELECT v.id, v.n FROM unnest((SELECT ?::uuid[])) WITH ORDINALITY AS v (id, n)
  ), s AS (
    UPDATE sessions s SET status = 'SCHEDULED', updated_at = now(),
           status_history = s.status_history || ?::jsonb, status_info = NULL,
           status_data = s.status_data || '{"predicates": []}'::jsonb, agent_id = (SELECT ?::text)
      FROM v
     WHERE s.id = v.id AND ${unindexedGuard(`s.status IN (${sqlList(SESSION_FROM)})`)} AND EXISTS (SELECT 1 FROM lk)
    RETURNING v.n, ${PLACED_SESSION_COLUMNS.map((c) => `s.${c}`).join(', ')},
              s.requested_slots, s.status, s.status_info, s.exit_code, s.result, s.schedule_name, s.scheduled_for
  ), k AS (
    UPDATE kernels k SET status = 'SCHEDULED', status_info = NULL,
           status_history = k.status_history || ?::jsonb, agent_id = (SELECT ?::text),
           occupied_slots = s.requested_slots
      FROM s
     WHERE k.session_id = s.id AND ${unindexedGuard(`k.status IN (${sqlList(KERNEL_FROM)})`)}
    RETURNING k.session_id, k.id, k.cluster_role, k.cluster_idx, k.cluster_hostname, k.occupied_slots
  ), e AS (
    INSERT INTO session_events (session_id, kernel_id, access_key, name, data)
    SELECT s.id, NULL, s.access_key, ${sqlText(sessionEventName('SCHEDULED')!)}, ${eventDataSql('s')}
      FROM s ORDER BY s.n
  )
  SELECT g.ok, ${PLACED_SESSION_COLUMNS.map((c) => `s.${c}`).join(', ')},
         (SELECT jsonb_agg(jsonb_build_object('id', k.id, 'cluster_role', k.cluster_role,
                   'cluster_idx', k.cluster_idx, 'cluster_hostname', k.cluster_hostname,
                   'occupied_slots', k.occupied_slots))
            FROM k WHERE k.session_id = s.id) AS kernels
    FROM (SELECT EXISTS (SELECT 1 FROM lk) AS ok) g LEFT JOIN s ON true
   ORDER BY s.n`;

type PlaceRow = { ok: boolean; id: string | null; kernels: PlacedKernel[] | null } & PlacedSession;

/** How many times the agent is read again when the guard refuses before giving up. */
const REREADS = 2;

/**
 * What a placement decides on: the agent as read in one snapshot (READ_AGENT_SQL, or the pass's
 * survey), with the placements committed on it then.
 */
export interface AgentReading extends AgentCapacity {
  placements: number;
}

/** An agent row of the survey, the glance or READ_AGENT_SQL, its kernels' slots summed. */
export function agentReadingOf(row: AgentSurveyRow): AgentReading {
  return {
    id: row.id,
    total: row.total,
    occupied: row.held.reduce<Slots>(addSlots, {}),
    architecture: row.architecture,
    placements: Number(row.placements),
  };
}

/**
 * Places sessions on one agent: each session that still fits what the agent had free when read
 * (in order: greedy, as before) moves PENDING → SCHEDULED with its kernels and its event, in
 * one statement that commits only if no other placement on the agent committed since that
 * reading (PLACE_SQL's guard); else the agent is read again. `seen`: a reading the caller has
 * (the pass's survey, taken in one snapshot), used first: then a placement is one round trip,
 * where a transaction locking the agent row took four (BEGIN, the lock, the placement, COMMIT).
 * Returns those placed, in the order placed; none when the agent is gone. (`_sessions`: unused,
 * so that it is called as commitPlacementStepByStep is.)
 */
export async function commitPlacement(
  db: Db,
  _sessions: SessionStore,
  agentId: string,
  list: readonly RunnableSession[],
  seen: AgentReading | null = null,
): Promise<Placed[]> {
  const placed: Placed[] = [];
  let rest = list;
  let rereads = 0;
  let agent = seen;
  while (rest.length > 0) {
    agent ??= await readAgent(db, agentId);
    if (!agent) break;
    let free = freeOf(agent);
    const chosen: string[] = [];
    for (const s of rest) {
      const need = scaleSlots(s.requested_slots, s.cluster_size);
      if (!fits(need, free) || !runsArch(agent, s.architecture)) continue;
      free = subtractSlots(free, need);
      chosen.push(s.id);
    }
    if (chosen.length === 0) break;
    const at = JSON.stringify({ SCHEDULED: new Date().toISOString() });
    const { rows } = (await preparedRaw(db, 'bai_place', PLACE_SQL, [
      agentId,
      agent.placements,
      JSON.stringify(agent.total),
      chosen,
      at,
      agentId,
      at,
      agentId,
    ])) as { rows: PlaceRow[] };
    agent = null; // whatever happened, the next round reads the agent as it now stands
    if (!rows[0]?.ok) {
      // Another placement on the agent committed since the reading (see PLACE_SQL): read again.
      if (++rereads > REREADS) break; // still changing: the next pass decides again
      continue;
    }
    const moved = rows.filter((r) => r.id !== null);
    for (const { ok: _ok, kernels, ...session } of moved) {
      placed.push({ session, kernels: [...(kernels ?? [])].sort(byClusterPosition) });
    }
    if (moved.length === chosen.length) break; // the others did not fit
    // Some had moved on (cancelled meanwhile): the room they were given goes to those not
    // chosen, as when each session's move was tried in turn and only a move made used room.
    const tried = new Set(chosen);
    rest = rest.filter((s) => !tried.has(s.id));
  }
  return placed;
}

/** The agent as a placement reads it (READ_AGENT_SQL); null when not ALIVE. */
async function readAgent(db: Db, agentId: string): Promise<AgentReading | null> {
  const { rows } = (await preparedRaw(db, 'bai_place_read', READ_AGENT_SQL, [agentId])) as {
    rows: AgentSurveyRow[];
  };
  return rows[0] ? agentReadingOf(rows[0]) : null;
}

/**
 * The placement statement by statement: the agent locked and its kernels counted, then per
 * session that still fits its guarded move with its kernels and events (session-store's
 * moveIn): the reference the one-statement path is compared with
 * (test/integration/placement-commit).
 */
export async function commitPlacementStepByStep(
  db: Db,
  sessions: SessionStore,
  agentId: string,
  list: readonly RunnableSession[],
): Promise<Placed[]> {
  return db.transaction(async (trx) => {
    const agent = (await trx('agents').where({ id: agentId, status: 'ALIVE' }).forUpdate().first()) as
      AgentRow | undefined;
    if (!agent) return [];
    // Counted as PLACE_SQL counts it: a placement decided on an older reading reads again.
    await trx('agents').where({ id: agentId }).increment('placements', 1);
    const held = await occupiedOn(trx, agentId);
    let free = subtractSlots(agent.available_slots, held);
    const placed: Placed[] = [];
    for (const s of list) {
      const need = scaleSlots(s.requested_slots, s.cluster_size);
      if (!fits(need, free) || !runsArch(agent, s.architecture)) continue;
      const moved = await sessions.moveIn(trx, s.id, 'SCHEDULED', {
        from: ['PENDING'],
        info: null,
        data: { predicates: [] },
        set: { agent_id: agentId },
        kernels: true,
        kernelSet: { agent_id: agentId, occupied_slots: s.requested_slots },
      });
      if (!moved) continue; // cancelled meanwhile, or placed by another manager
      free = subtractSlots(free, need);
      placed.push(moved);
    }
    return placed;
  });
}

/** Slots held on the agent by kernels of sessions that are not over. */
async function occupiedOn(db: Knex | Knex.Transaction, agentId: string): Promise<Slots> {
  const rows = (await db('kernels')
    .where('agent_id', agentId)
    .whereIn('status', [...ACTIVE_STATUSES])
    .select('occupied_slots')) as { occupied_slots: Slots }[];
  return rows.reduce<Slots>((acc, r) => addSlots(acc, r.occupied_slots), {});
}
