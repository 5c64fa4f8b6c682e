import { ACTIVE_STATUSES } from '../domain/status.js';
import type { Db } from './db.js';

/** One group of sessions by status, result and scaling group, as a scrape reads it. */
export interface SessionCount {
  status: string;
  /** SUCCESS | FAILURE, or UNDEFINED until the session has ended. */
  result: string;
  scalingGroup: string;
  count: number;
  /** The oldest created_at of a live group (`bai_pending_oldest_age_seconds`); null for ended ones. */
  oldest: Date | null;
}

/** An agent as the metrics show it: liveness, declared capacity, and the slots its kernels hold. */
export interface AgentSlots {
  id: string;
  scalingGroup: string;
  status: string;
  capacity: Record<string, number>;
  used: Record<string, number>;
}

/**
 * What `GET /metrics` reads from PostgreSQL: the session counts, the agents, and one GROUP BY
 * over the kernels that hold slots. Read once per scrape (manager-metrics.ts).
 */
export class MetricsStore {
  constructor(private readonly db: Db) {}

  /**
   * Live sessions are counted from their partial index (sessions_live_counts_idx), ended ones
   * from session_end_counts, which a trigger keeps: a scrape's cost does not grow with history.
   */
  async sessionCounts(): Promise<SessionCount[]> {
    const { rows } = (await this.db.raw(
      `SELECT status, result, scaling_group, count(*)::int AS n, min(created_at) AS oldest
         FROM sessions WHERE status NOT IN ('TERMINATED', 'CANCELLED')
        GROUP BY status, result, scaling_group
       UNION ALL
       SELECT status, result, scaling_group, sum(n)::int AS n, NULL AS oldest
         FROM session_end_counts
        GROUP BY status, result, scaling_group HAVING sum(n) > 0`,
    )) as {
      rows: { status: string; result: string; scaling_group: string; n: number; oldest: Date | null }[];
    };
    return rows.map((r) => ({
      status: r.status,
      result: r.result,
      scalingGroup: r.scaling_group,
      count: Number(r.n),
      oldest: r.oldest ? new Date(r.oldest) : null,
    }));
  }

  /** Agents that are ALIVE or LOST, with the slots the kernels placed on them hold. */
  async agentSlots(): Promise<AgentSlots[]> {
    const agents = (await this.db('agents')
      .whereIn('status', ['ALIVE', 'LOST'])
      .select('id', 'scaling_group', 'status', 'available_slots')) as {
      id: string;
      scaling_group: string;
      status: string;
      available_slots: Record<string, number>;
    }[];
    if (agents.length === 0) return [];
    const { rows } = (await this.db.raw(
      `SELECT k.agent_id, e.key, sum(e.value::numeric)::float8 AS used
         FROM kernels k CROSS JOIN LATERAL jsonb_each_text(k.occupied_slots) e
        WHERE k.agent_id IS NOT NULL AND k.status = ANY(?)
        GROUP BY k.agent_id, e.key`,
      [[...ACTIVE_STATUSES]],
    )) as { rows: { agent_id: string; key: string; used: number }[] };
    const used = new Map<string, Record<string, number>>();
    for (const r of rows) used.set(r.agent_id, { ...used.get(r.agent_id), [r.key]: Number(r.used) });
    return agents.map((a) => ({
      id: a.id,
      scalingGroup: a.scaling_group,
      status: a.status,
      capacity: a.available_slots ?? {},
      used: used.get(a.id) ?? {},
    }));
  }
}
