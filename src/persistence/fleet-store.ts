import { ACTIVE_STATUSES, PREPARE_STATUSES } from '../domain/status.js';
import type { Db } from './db.js';
import type { AgentRow, SessionRow } from './rows.js';

/** What a heartbeat says about an agent that is alive. */
export interface AgentLiveness {
  at: Date;
  /** `draining`, `engine-unavailable`, or null. */
  statusInfo: string | null;
  slots: Record<string, number>;
  scalingGroup: string;
}

/**
 * Agents and the sessions they hold, as the reconciler and the report handler see them:
 * liveness (ALIVE/LOST), the `agent-disconnected` flag of the sessions of a LOST agent, and
 * sessions stuck in a phase or waiting past their group's pending timeout.
 */
export class FleetStore {
  constructor(private readonly db: Db) {}

  /** Every agent id ever registered (the manager consumes each one's reports queue). */
  async agentIds(): Promise<string[]> {
    const rows = (await this.db('agents').select('id')) as { id: string }[];
    return rows.map((r) => r.id);
  }

  /** The scaling group an agent is registered in (null: no such agent); its queue is named after it. */
  async scalingGroupOf(agentId: string): Promise<string | null> {
    const row = (await this.db('agents').where({ id: agentId }).first('scaling_group')) as
      { scaling_group: string } | undefined;
    return row?.scaling_group ?? null;
  }

  /** Agents that are ALIVE or LOST (not those an admin removed). */
  async watchedAgents(): Promise<AgentRow[]> {
    return (await this.db('agents').whereIn('status', ['ALIVE', 'LOST'])) as AgentRow[];
  }

  /** A scaling group named by an agent exists (created empty if not). */
  async ensureScalingGroup(name: string): Promise<void> {
    await this.db('scaling_groups').insert({ name }).onConflict('name').ignore();
  }

  /**
   * The agent heartbeats: ALIVE with what its heartbeat says. The admin's `schedulable` flag is
   * the operator's and is never touched here.
   */
  async markAlive(agentId: string, hb: AgentLiveness): Promise<void> {
    await this.db('agents')
      .where({ id: agentId })
      .update({
        status: 'ALIVE',
        status_info: hb.statusInfo,
        last_heartbeat: hb.at,
        available_slots: JSON.stringify(hb.slots),
        scaling_group: hb.scalingGroup,
      });
  }

  /** An ALIVE agent went silent: LOST. False when it was not ALIVE (another pass did it). */
  async markLost(agentId: string, info: string): Promise<boolean> {
    const n = await this.db('agents')
      .where({ id: agentId, status: 'ALIVE' })
      .update({ status: 'LOST', status_info: info });
    return n > 0;
  }

  /**
   * Flags the active sessions of a LOST agent: status_info `info` unless they have one, and
   * `flag` merged into status_data. Their status does not change.
   */
  async flagSessionsOf(agentId: string, info: string, flag: Record<string, unknown>): Promise<void> {
    const { db } = this;
    await db('sessions')
      .where({ agent_id: agentId })
      .whereIn('status', [...ACTIVE_STATUSES])
      .update({
        status_info: db.raw(`coalesce(status_info, ?)`, [info]),
        status_data: db.raw(`status_data || ?::jsonb`, [JSON.stringify(flag)]),
      });
  }

  /** Clears what flagSessionsOf wrote (`key` in status_data, status_info `info`); returns how many. */
  async unflagSessionsOf(agentId: string, info: string, key: string): Promise<number> {
    const { db } = this;
    return db('sessions')
      .where({ agent_id: agentId })
      .whereIn('status', [...ACTIVE_STATUSES])
      .whereRaw(`status_data -> ? IS NOT NULL`, [key])
      .update({
        status_info: db.raw(`CASE WHEN status_info = ? THEN NULL ELSE status_info END`, [info]),
        status_data: db.raw(`status_data - ?::text`, [key]),
      });
  }

  /** Sessions placed on the agent and not over (optionally: not updated since `before`). */
  async activeOn(agentId: string, before?: Date): Promise<SessionRow[]> {
    let q = this.db('sessions')
      .where({ agent_id: agentId })
      .whereIn('status', [...ACTIVE_STATUSES]);
    if (before) q = q.where('updated_at', '<', before);
    return (await q) as SessionRow[];
  }

  async sessionsByIds(ids: string[]): Promise<SessionRow[]> {
    if (ids.length === 0) return [];
    return (await this.db('sessions').whereIn('id', ids)) as SessionRow[];
  }

  /** Sessions in a preparing phase (SCHEDULED to CREATING) not updated since `before`. */
  async stuckPreparing(before: Date): Promise<SessionRow[]> {
    return (await this.db('sessions')
      .whereIn('status', [...PREPARE_STATUSES])
      .where('updated_at', '<', before)) as SessionRow[];
  }

  /** PENDING sessions older than their scaling group's pending_timeout_sec (when it has one). */
  async pendingTimedOut(): Promise<string[]> {
    const rows = (await this.db('sessions as s')
      .join('scaling_groups as g', 'g.name', 's.scaling_group')
      .where('s.status', 'PENDING')
      .whereNull('s.array_size') // an array's parent follows its children, each timed out alone
      .where('g.pending_timeout_sec', '>', 0)
      .whereRaw(`s.created_at < now() - make_interval(secs => g.pending_timeout_sec)`)
      .select('s.id')) as { id: string }[];
    return rows.map((r) => r.id);
  }
}
