import type { Knex } from 'knex';
import { runsArch } from '../domain/placement.js';
import { addSlots, fits, scaleSlots, subtractSlots, type Slots } from '../domain/resources.js';
import { sessionEventName } from '../domain/events.js';
import { ACTIVE_STATUSES, predecessorsOf } from '../domain/status.js';
import type { Db, Tx } from './db.js';
import { preparedRaw } from './prepared.js';
import {
  byClusterPosition,
  PLACED_SESSION_COLUMNS,
  type AgentRow,
  type PlacedKernel,
  type PlacedSession,
} from './rows.js';
import { sqlList, sqlText } from './scheduler-sql.js';
import { eventDataSql } from './session-events.js';
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
 * Locks the agent row for the rest of the transaction (so two managers never over-commit it)
 * and reads what its live kernels hold, as a map kernel id → occupied_slots, returned as TEXT:
 * the placement statement is handed the same text back as its guard. The kernels are read in
 * this statement's snapshot, taken before the lock was granted: when another transaction held
 * the lock and committed meanwhile, what it placed is not in the map. The placement statement,
 * which starts after the lock is held, checks the map against the kernels as they then stand.
 */
const LOCK_AGENT_SQL = `SELECT a.available_slots, a.architecture,
       (SELECT coalesce(jsonb_object_agg(k.id, k.occupied_slots), '{}'::jsonb)::text
          FROM kernels k WHERE k.agent_id = a.id AND k.status IN (${sqlList(ACTIVE_STATUSES)})) AS held
  FROM agents a
 WHERE a.id = (SELECT ?::text) AND a.status = 'ALIVE'
   FOR UPDATE OF a`;

/** The moves' guards, as the moves one by one had them: the session only from PENDING, its kernels from any predecessor. */
const SESSION_FROM = predecessorsOf('SCHEDULED').filter((s) => s === 'PENDING');
const KERNEL_FROM = predecessorsOf('SCHEDULED');

/**
 * Moves sessions PENDING → SCHEDULED on one agent with their kernels and their events, in ONE
 * statement where each session took three (the guarded UPDATE of the session, its kernels',
 * the INSERT of its event): data-modifying CTEs that commit with the caller's transaction, in
 * which the agent row is locked. One text for any number of sessions (their ids as an array,
 * in the order placed), so it is parsed once per connection; the values a plan could hinge on
 * are read through sub-selects, so the generic plan is the custom one.
 *
 * The guard `gate`: every live kernel on the agent, as this statement sees it (its snapshot
 * taken with the lock held: every other placement on the agent committed before or waits),
 * holds what the lock statement's map says; else (another placement committed while the lock
 * was awaited: a kernel not in the map, room the fit did not count) nothing moves, and the
 * caller reads again. Kernels in the map that ended since are not looked at: they only free room. The same guards on each session and kernel as the moves one by
 * one (only from PENDING); the event written is what sessionEventRows writes for SCHEDULED
 * (no kernel event), its data built from the moved row (eventDataSql), one per session in the
 * order given. SCHEDULED calls for no callback (callbackEventOf), so a session with a
 * callback_url is placed like any other, with no delivery to write.
 */
const PLACE_SQL = `WITH gate AS MATERIALIZED (
    SELECT NOT EXISTS (
      SELECT 1 FROM kernels k
       WHERE k.agent_id = (SELECT ?::text) AND k.status IN (${sqlList(ACTIVE_STATUSES)})
         AND (?::jsonb -> k.id::text) IS DISTINCT FROM k.occupied_slots) AS ok
  ), v AS (
    SELECT v.id, v.n FROM unnest((SELECT ?::uuid[])) WITH ORDINALITY AS v (id, n)
  ), s AS (
    UPDATE sessions s SET status = 'SCHEDULED', updated_at = now(),
           status_history = s.status_history || ?::jsonb, status_info = NULL,
           status_data = s.status_data || '{"predicates": []}'::jsonb, agent_id = (SELECT ?::text)
      FROM v
     WHERE s.id = v.id AND s.status IN (${sqlList(SESSION_FROM)}) AND (SELECT ok FROM gate)
    RETURNING v.n, ${PLACED_SESSION_COLUMNS.map((c) => `s.${c}`).join(', ')},
              s.requested_slots, s.status, s.status_info, s.exit_code, s.result, s.schedule_name, s.scheduled_for
  ), k AS (
    UPDATE kernels k SET status = 'SCHEDULED', status_info = NULL,
           status_history = k.status_history || ?::jsonb, agent_id = (SELECT ?::text),
           occupied_slots = s.requested_slots
      FROM s
     WHERE k.session_id = s.id AND k.status IN (${sqlList(KERNEL_FROM)})
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
    FROM gate g LEFT JOIN s ON true
   ORDER BY s.n`;

type PlaceRow = { ok: boolean; id: string | null; kernels: PlacedKernel[] | null } & PlacedSession;

/** How many times the held slots are read again when the guard refuses before giving up. */
const REREADS = 2;

/**
 * Places sessions on one agent in one transaction that locks the agent row and counts what
 * it holds: each session that still fits (in order: greedy, as before) moves PENDING →
 * SCHEDULED with its kernels and its event. Four round trips (BEGIN, the lock, the
 * placement, COMMIT) where each session took three of its own after the lock and the count.
 * Returns those placed, in the order placed; none when the agent is gone. (`_sessions`: unused,
 * so that it is called as commitPlacementStepByStep is.)
 */
export async function commitPlacement(
  db: Db,
  _sessions: SessionStore,
  agentId: string,
  list: readonly RunnableSession[],
): Promise<Placed[]> {
  return db.transaction(async (trx) => {
    const placed: Placed[] = [];
    let rest = list;
    let rereads = 0;
    while (rest.length > 0) {
      const agent = await lockAgent(trx, agentId);
      if (!agent) break;
      let free = subtractSlots(agent.available_slots, sumHeld(agent.held));
      const chosen: string[] = [];
      for (const s of rest) {
        const need = scaleSlots(s.requested_slots, s.cluster_size);
        if (!fits(need, free) || !runsArch(agent, s.architecture)) continue;
        free = subtractSlots(free, need);
        chosen.push(s.id);
      }
      if (chosen.length === 0) break;
      const at = JSON.stringify({ SCHEDULED: new Date().toISOString() });
      const { rows } = (await preparedRaw(trx, 'bai_place', PLACE_SQL, [
        agentId,
        agent.held,
        chosen,
        at,
        agentId,
        at,
        agentId,
      ])) as { rows: PlaceRow[] };
      if (!rows[0]?.ok) {
        // The agent's kernels changed since the count (see PLACE_SQL): count again, under the lock.
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
  });
}

/** The agent row locked (its slots, its architecture, what its live kernels hold); null when not ALIVE. */
async function lockAgent(
  trx: Tx,
  agentId: string,
): Promise<(Pick<AgentRow, 'available_slots' | 'architecture'> & { held: string }) | null> {
  const { rows } = (await preparedRaw(trx, 'bai_place_lock', LOCK_AGENT_SQL, [agentId])) as {
    rows: (Pick<AgentRow, 'available_slots' | 'architecture'> & { held: string })[];
  };
  return rows[0] ?? null;
}

/** The sum of the slots in a held map's text (kernel id → occupied_slots). */
function sumHeld(held: string): Slots {
  return Object.values(JSON.parse(held) as Record<string, Slots>).reduce<Slots>(addSlots, {});
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
