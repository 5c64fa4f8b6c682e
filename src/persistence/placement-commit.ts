import type { Knex } from 'knex';
import { runsArch } from '../domain/placement.js';
import { addSlots, fits, scaleSlots, subtractSlots, type Slots } from '../domain/resources.js';
import { ACTIVE_STATUSES } from '../domain/status.js';
import type { Db } from './db.js';
import type { AgentRow, PlacedKernel, PlacedSession } from './rows.js';
import type { SessionStore } from './session-store.js';

/** What placement reads of a runnable session (the runnable scan's columns, not the whole row). */
export interface RunnableSession {
  id: string;
  requested_slots: Slots;
  cluster_size: number;
  architecture: string | null;
  /** status_data.predicates as stored (the pass rewrites them only when they change). */
  predicates: unknown;
  /** Whether it has a callback_url: its placement takes the statements one by one. */
  has_callback: boolean;
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
 * Places sessions on one agent in one transaction that locks the agent row and counts what
 * it holds: per session that still fits (in order: greedy), its guarded move PENDING →
 * SCHEDULED with its kernels and events (session-store's moveIn). Returns those placed, in
 * the order given; none when the agent is gone.
 */
export async function commitPlacement(
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
