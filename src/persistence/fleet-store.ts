import { ACTIVE_STATUSES, PREPARE_STATUSES } from '../domain/status.js';
import type { Db } from './db.js';
import { sqlList } from './sql-literals.js';
import { preparedRaw } from './prepared.js';
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
  /**
   * `loopDb`: where the reconciler's statements of every tick run (the heartbeat's markAlive,
   * sessionsByIds and activeOn, timedOut), a pool whose connections keep generic plans (openGenericPlanDb).
   * On `db`'s sixteen connections each was planned on every call (a tick every 2 s lands on
   * another connection, five custom plans each, again after each autoanalyze): timedOut at
   * ~4 ms a plan was most of an idle PostgreSQL's CPU (docs/benchmarks.md, round thirteen).
   * Their statuses are literals in the text, so the generic plan knows them as a custom one does.
   */
  constructor(
    private readonly db: Db,
    private readonly loopDb: Db = db,
  ) {}

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
    // The reconciler's every pass: named, so neither knex nor PostgreSQL builds it again.
    const { rows } = (await preparedRaw(
      this.db,
      'bai_watched_agents',
      `SELECT * FROM agents WHERE status IN ('ALIVE', 'LOST')`,
    )) as { rows: AgentRow[] };
    return rows;
  }

  /** A scaling group named by an agent exists (created empty if not). */
  async ensureScalingGroup(name: string): Promise<void> {
    await this.db('scaling_groups').insert({ name }).onConflict('name').ignore();
  }

  /**
   * The agent heartbeats: ALIVE with what its heartbeat says, and in the same statement its
   * sessions lose the flag flagSessionsOf wrote (`key` in status_data, status_info `info`), so a
   * LOST agent back within its grace window, or restarted, has its sessions known again. Returns
   * how many sessions were unflagged. The admin's `schedulable` flag is the operator's and is
   * never touched here.
   */
  async markAlive(
    agentId: string,
    hb: AgentLiveness,
    unflag: { info: string; key: string },
  ): Promise<number> {
    const { rows } = (await preparedRaw(
      this.loopDb,
      'bai_mark_alive',
      `WITH a AS (
         UPDATE agents SET status = 'ALIVE', status_info = ?, last_heartbeat = ?,
           available_slots = ?::jsonb, scaling_group = ?
         WHERE id = ? RETURNING 1),
       u AS (
         UPDATE sessions SET status_info = CASE WHEN status_info = ? THEN NULL ELSE status_info END,
           status_data = status_data - ?::text
         WHERE agent_id = ? AND status IN (${sqlList(ACTIVE_STATUSES)}) AND status_data -> ? IS NOT NULL RETURNING 1)
       SELECT (SELECT count(*) FROM u)::int AS n`,
      [
        hb.statusInfo,
        hb.at,
        JSON.stringify(hb.slots),
        hb.scalingGroup,
        agentId,
        unflag.info,
        unflag.key,
        agentId,
        unflag.key,
      ],
    )) as { rows: { n: number }[] };
    return rows[0]?.n ?? 0;
  }

  /**
   * An ALIVE agent went silent: LOST, with the time of its last heartbeat (`lastSeen`, when later
   * than the one written). False when it was not ALIVE (another pass did it).
   */
  async markLost(agentId: string, info: string, lastSeen: Date): Promise<boolean> {
    const { db } = this;
    const n = await db('agents')
      .where({ id: agentId, status: 'ALIVE' })
      .update({
        status: 'LOST',
        status_info: info,
        last_heartbeat: db.raw('greatest(last_heartbeat, ?::timestamptz)', [lastSeen]),
      });
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

  /** Sessions placed on the agent and not over (optionally: not updated since `before`). */
  async activeOn(agentId: string, before?: Date): Promise<SessionRow[]> {
    // Each live agent's heartbeat, every reconciler pass: named statements (two texts) on
    // `loopDb`. The statuses are literals, so a generic plan proves sessions_agent_active_idx's
    // predicate as a custom one does: bound, they left the generic plan sessions_agent_idx, the
    // agent's whole history read and filtered (history-indexes), and on `db` the rest of the
    // calls were planned, up to 1.2 ms a plan (docs/benchmarks.md, round twenty-nine).
    const sql = `SELECT * FROM sessions WHERE agent_id = ? AND status IN (${sqlList(ACTIVE_STATUSES)})`;
    const { rows } = (await (before
      ? preparedRaw(this.loopDb, 'bai_active_on_before', `${sql} AND updated_at < ?`, [agentId, before])
      : preparedRaw(this.loopDb, 'bai_active_on', sql, [agentId]))) as { rows: SessionRow[] };
    return rows;
  }

  async sessionsByIds(ids: string[]): Promise<SessionRow[]> {
    if (ids.length === 0) return [];
    // One text whatever the count (an array parameter), so it is named and parsed once; on
    // `loopDb` (every heartbeat of a busy agent reads it): on `db` most calls were planned, up to
    // 1.7 ms a plan against sessions' partial indexes, for a read by primary key
    // (docs/benchmarks.md, round twenty-nine).
    const { rows } = (await preparedRaw(
      this.loopDb,
      'bai_sessions_by_ids',
      'SELECT * FROM sessions WHERE id = ANY(?::uuid[])',
      [ids],
    )) as { rows: SessionRow[] };
    return rows;
  }

  /**
   * In one read: sessions in a start phase not updated since `before` (phase timeout), the
   * ids of PENDING sessions older than their scaling group's pending_timeout_sec (when it has one;
   * an array's parent follows its children, each timed out alone), and whether any session is
   * live (PENDING to TERMINATING): with none, the reconciler's ticks may skip PostgreSQL.
   * The PENDING sessions are read group by group (LATERAL, kept apart by its OFFSET 0), only in
   * groups that have a timeout: from the sessions side, a plan from statistics that saw few
   * PENDING sessions read them all on every tick, to drop them for want of a timeout.
   */
  async timedOut(before: Date): Promise<{ stuck: SessionRow[]; pending: string[]; live: boolean }> {
    const live = ['PENDING', ...ACTIVE_STATUSES];
    const { rows } = (await preparedRaw(
      this.loopDb,
      'bai_timed_out',
      `SELECT s.*, 'phase' AS why FROM sessions s WHERE s.status IN (${sqlList(PREPARE_STATUSES)}) AND s.updated_at < ?
       UNION ALL
       SELECT s.*, 'pending' AS why FROM scaling_groups g CROSS JOIN LATERAL (
         SELECT s.* FROM sessions s
          WHERE s.scaling_group = g.name AND s.status = 'PENDING' AND s.array_size IS NULL
            AND s.created_at < now() - make_interval(secs => g.pending_timeout_sec) OFFSET 0) s
       WHERE g.pending_timeout_sec > 0
       UNION ALL
       (SELECT s.*, 'live' AS why FROM sessions s WHERE s.status IN (${sqlList(live)}) LIMIT 1)`,
      [before],
    )) as { rows: (SessionRow & { why: 'phase' | 'pending' | 'live' })[] };
    const stuck: SessionRow[] = [];
    const pending: string[] = [];
    let isLive = false;
    for (const { why, ...row } of rows) {
      if (why === 'phase') stuck.push(row);
      else if (why === 'pending') pending.push(row.id);
      else isLive = true;
    }
    return { stuck, pending, live: isLive || stuck.length > 0 || pending.length > 0 };
  }
}
