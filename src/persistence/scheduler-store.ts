import type { Knex } from 'knex';
import { runsArch, type AgentCapacity } from '../domain/placement.js';
import {
  templateParts,
  type Dependency,
  type Predicate,
  type WaitReason,
  WAIT_REASONS,
} from '../domain/predicates.js';
import { addSlots, fits, scaleSlots, subtractSlots, type Slots } from '../domain/resources.js';
import { ACTIVE_STATUSES } from '../domain/status.js';
import { arrayGateCtes } from './array-store.js';
import type { Db } from './db.js';
import {
  DEPENDENCY_BROKEN_SQL,
  DEPENDENCY_MET_SQL,
  START_DEADLINE_APPLIES_SQL,
  START_DEADLINE_AT_SQL,
} from './dependency-sql.js';
import type { AgentRow, KernelRow, SessionRow } from './rows.js';
import type { Moved, SessionStore } from './session-store.js';

const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;
const sqlList = (xs: readonly string[]) => xs.map(sqlText).join(', ');
/** How a timestamp column reads in a predicate's message (as Date.toISOString writes it). */
const isoSql = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * A wait reason's predicate as a PostgreSQL expression: `[{name, msg}]`, the message rendered
 * from the domain's template with each hole filled by the SQL expression given for it.
 */
function predicatesSql(reason: WaitReason, holes: Record<string, string> = {}): string {
  const msg = templateParts(reason)
    .map((p) => {
      if ('text' in p) return sqlText(p.text);
      const expr = holes[p.hole];
      if (expr === undefined) throw new Error(`predicate ${reason}: no SQL for {${p.hole}}`);
      return `(${expr})::text`;
    })
    .join(' || ');
  return `jsonb_build_array(jsonb_build_object('name', ${sqlText(WAIT_REASONS[reason].name)}, 'msg', ${msg}))`;
}

/** A dependency `p` (a sessions row) that does not let its dependent run yet (`d`: its condition). */
const NOT_MET = `NOT ${DEPENDENCY_MET_SQL}`;
/** A dependency `p` whose condition can no longer hold. */
const BROKEN = DEPENDENCY_BROKEN_SQL;
/** Session `s` is past its start deadline at the time bound to `?`. */
const PAST_START_DEADLINE = `(${START_DEADLINE_APPLIES_SQL} AND ${START_DEADLINE_AT_SQL} <= ?)`;
/** An unbroken dependency, from `sessions s`. */
const UNMET_DEPENDENCY = `SELECT 1 FROM session_dependencies d JOIN sessions p ON p.id = d.depends_on
   WHERE d.session_id = s.id AND ${NOT_MET}`;

/**
 * What the dispatcher reads and writes: PENDING sessions by scaling group and why each waits
 * (predicates written set-based, so however many wait a pass costs the same), agents'
 * capacities, and the placement of sessions on an agent (guarded moves of sessions and their
 * kernels, with their events).
 */
export class SchedulerStore {
  constructor(
    private readonly db: Db,
    private readonly sessions: SessionStore,
  ) {}

  /** Scaling groups with PENDING sessions: one index probe per group, not a scan of every session. */
  async groupsWithPending(): Promise<string[]> {
    const { db } = this;
    const rows = (await db('scaling_groups as g')
      .select('g.name as scaling_group')
      .whereExists(
        db('sessions as s').whereRaw('s.scaling_group = g.name').where('s.status', 'PENDING'),
      )) as { scaling_group: string }[];
    return rows.map((r) => r.scaling_group);
  }

  /**
   * Writes `starts_at` once on the sessions whose starts_at is beyond `horizon` and that have no
   * predicate yet; returns the first such starts_at (null: none).
   */
  async deferLater(group: string, horizon: Date): Promise<Date | null> {
    // One statement: the UPDATE's CTE runs to completion whether or not the SELECT reads it,
    // and the SELECT sees the rows as they were before it (starts_at is not changed by it).
    const preds = predicatesSql('startsAt', { startsAt: isoSql('starts_at') });
    const { rows } = (await this.db.raw(
      `WITH u AS (
         UPDATE sessions SET status_data = status_data || jsonb_build_object('predicates', ${preds})
          WHERE scaling_group = ? AND status = 'PENDING' AND starts_at > ?
            AND status_data -> 'predicates' IS NULL
         RETURNING 1
       )
       SELECT min(starts_at) AS at FROM sessions
        WHERE scaling_group = ? AND status = 'PENDING' AND starts_at > ?`,
      [group, horizon, group, horizon],
    )) as { rows: { at: Date | null }[] };
    return rows[0]?.at ?? null;
  }

  /** PENDING sessions of the group one of whose dependency conditions can no longer hold (one such dependency each). */
  async brokenDependents(group: string, limit: number): Promise<{ id: string; dependency: Dependency }[]> {
    const { rows } = (await this.db.raw(
      `SELECT DISTINCT ON (s.id) s.id, p.id AS dep_id, p.status AS dep_status, p.result AS dep_result,
              d.condition AS dep_condition
         FROM sessions s
         JOIN session_dependencies d ON d.session_id = s.id
         JOIN sessions p ON p.id = d.depends_on
        WHERE s.scaling_group = ? AND s.status = 'PENDING' AND ${BROKEN}
        ORDER BY s.id
        LIMIT ?`,
      [group, limit],
    )) as {
      rows: {
        id: string;
        dep_id: string;
        dep_status: Dependency['status'];
        dep_result: Dependency['result'];
        dep_condition: Dependency['condition'];
      }[];
    };
    return rows.map((r) => ({
      id: r.id,
      dependency: { id: r.dep_id, status: r.dep_status, result: r.dep_result, condition: r.dep_condition },
    }));
  }

  /**
   * PENDING first attempts of the group past their start deadline at `now` (up to `limit`,
   * the earliest first), and the next deadline still to come (null: none), in one statement.
   * An array's parent is never placed, so never held to it: each child carries the deadline.
   */
  async startDeadlines(
    group: string,
    now: Date,
    limit: number,
  ): Promise<{ expired: { id: string; seconds: number; deadline: Date }[]; next: Date | null }> {
    const { rows } = (await this.db.raw(
      `(SELECT s.id, s.start_deadline_seconds AS seconds, ${START_DEADLINE_AT_SQL} AS deadline
          FROM sessions s
         WHERE s.scaling_group = ? AND ${PAST_START_DEADLINE} AND s.array_size IS NULL
         ORDER BY 3 LIMIT ?)
       UNION ALL
       (SELECT NULL, NULL, min(${START_DEADLINE_AT_SQL}) FROM sessions s
         WHERE s.scaling_group = ? AND ${START_DEADLINE_APPLIES_SQL} AND ${START_DEADLINE_AT_SQL} > ?
           AND s.array_size IS NULL)`,
      [group, now, limit, group, now],
    )) as { rows: { id: string | null; seconds: number | null; deadline: Date | null }[] };
    const expired = rows.flatMap((r) =>
      r.id !== null ? [{ id: r.id, seconds: r.seconds!, deadline: r.deadline! }] : [],
    );
    return { expired, next: rows.find((r) => r.id === null)?.deadline ?? null };
  }

  /** Writes `retry_backoff` on sessions waiting out a retry delay; returns when the first is due. */
  async deferBackoff(group: string, now: Date): Promise<Date | null> {
    const preds = predicatesSql('retryBackoff', { retryAfter: isoSql('retry_after') });
    // One statement, as in deferLater (retry_after is not changed by the UPDATE).
    const { rows } = (await this.db.raw(
      `WITH u AS (
         UPDATE sessions SET status_data = status_data || jsonb_build_object('predicates', ${preds})
          WHERE scaling_group = ? AND status = 'PENDING' AND retry_after > ?
            AND (status_data -> 'predicates') IS DISTINCT FROM ${preds}
         RETURNING 1
       )
       SELECT min(retry_after) AS at FROM sessions
        WHERE scaling_group = ? AND status = 'PENDING' AND retry_after > ?`,
      [group, now, group, now],
    )) as { rows: { at: Date | null }[] };
    return rows[0]?.at ?? null;
  }

  /** Writes `dependencies` on due sessions that wait for a dependency to end. */
  async explainDependencies(group: string, horizon: Date, now: Date): Promise<void> {
    const preds = predicatesSql('dependencies', {
      sessions: `string_agg(p.id::text, ', ' ORDER BY p.id::text)`,
    });
    await this.db.raw(
      `UPDATE sessions s SET status_data = s.status_data || jsonb_build_object('predicates', w.preds)
         FROM (SELECT d.session_id, ${preds} AS preds
                 FROM session_dependencies d
                 JOIN sessions x ON x.id = d.session_id
                 JOIN sessions p ON p.id = d.depends_on
                WHERE x.scaling_group = ? AND x.status = 'PENDING'
                  AND (x.starts_at IS NULL OR x.starts_at <= ?)
                  AND (x.retry_after IS NULL OR x.retry_after <= ?)
                  AND ${NOT_MET}
                GROUP BY d.session_id) w
        WHERE s.id = w.session_id AND s.status = 'PENDING'
          AND (s.status_data -> 'predicates') IS DISTINCT FROM w.preds`,
      [group, horizon, now],
    );
  }

  /**
   * The sessions of the group that can run now but for capacity, in priority then FIFO order:
   * due, past any backoff, every dependency's condition met, not past a start deadline, and within their
   * keypair's room under `max_concurrent_sessions` (ranked per keypair in the same order).
   * Those beyond their keypair's room get `keypair_concurrency` written, in the same statement.
   */
  async runnable(group: string, horizon: Date, now: Date, limit: number): Promise<SessionRow[]> {
    const limitPreds = predicatesSql('keypairConcurrency', { limit: 'r.kp_limit' });
    const arrayPreds = predicatesSql('arrayParallelism', { limit: 'r.arr_limit' });
    // Array parents are never placed (nor counted as the keypair's sessions); array children
    // pass the array's parallelism gate (arrayGateCtes) before the keypair's.
    const { rows } = (await this.db.raw(
      `WITH cand0 AS MATERIALIZED (
         SELECT s.* FROM sessions s
          WHERE s.scaling_group = ? AND s.status = 'PENDING' AND s.array_size IS NULL
            AND (s.starts_at IS NULL OR s.starts_at <= ?)
            AND (s.retry_after IS NULL OR s.retry_after <= ?)
            AND NOT EXISTS (${UNMET_DEPENDENCY})
            AND NOT ${PAST_START_DEADLINE}
       ), ${arrayGateCtes('cand0', 'cand', arrayPreds)}, room AS (
         SELECT k.access_key, p.max_concurrent_sessions AS kp_limit,
                p.max_concurrent_sessions
                  - (SELECT count(*) FROM sessions a WHERE a.access_key = k.access_key AND a.status IN (${sqlList(ACTIVE_STATUSES)}) AND a.array_size IS NULL) AS kp_room
           FROM keypairs k JOIN keypair_resource_policies p ON p.name = k.resource_policy
          WHERE k.access_key IN (SELECT DISTINCT access_key FROM cand)
       ), ranked AS (
         SELECT c.*, r.kp_limit,
                row_number() OVER (PARTITION BY c.access_key ORDER BY c.priority DESC, c.created_at, c.array_index) AS kp_rank,
                coalesce(r.kp_room, 2147483647) AS kp_room
           FROM cand c LEFT JOIN room r ON r.access_key = c.access_key
       ), over_limit AS (
         UPDATE sessions s SET status_data = s.status_data || jsonb_build_object('predicates', ${limitPreds})
           FROM ranked r
          WHERE s.id = r.id AND r.kp_rank > r.kp_room AND s.status = 'PENDING'
            AND (s.status_data -> 'predicates') IS DISTINCT FROM ${limitPreds}
         RETURNING s.id
       )
       SELECT * FROM ranked WHERE kp_rank <= kp_room
        ORDER BY priority DESC, created_at, array_index
        LIMIT ?`,
      [group, horizon, now, now, limit],
    )) as { rows: (SessionRow & { kp_rank?: unknown; kp_room?: unknown; kp_limit?: unknown })[] };
    return rows.map(({ kp_rank: _r, kp_room: _m, kp_limit: _l, ...row }) => row as SessionRow);
  }

  /** Writes a PENDING session's predicates (callers skip those that did not change). */
  async writePredicates(id: string, preds: Predicate[]): Promise<void> {
    await this.db('sessions')
      .where({ id, status: 'PENDING' })
      .update({
        status_data: this.db.raw(`status_data || ?::jsonb`, [JSON.stringify({ predicates: preds })]),
      });
  }

  /**
   * The schedulable agents of the group, with what their sessions hold: one statement (each
   * agent's active kernels' slots gathered beside its row, summed here).
   */
  async capacities(group: string): Promise<AgentCapacity[]> {
    const active = sqlList(ACTIVE_STATUSES);
    const { rows } = (await this.db.raw(
      `SELECT a.*,
              (SELECT coalesce(jsonb_agg(k.occupied_slots), '[]'::jsonb) FROM kernels k
                WHERE k.agent_id = a.id AND k.status IN (${active})) AS held_slots
         FROM agents a
        WHERE a.scaling_group = ? AND a.status = 'ALIVE' AND a.schedulable
          AND coalesce(a.status_info, '') NOT IN ('draining', 'engine-unavailable')`,
      [group],
    )) as { rows: (AgentRow & { held_slots: Slots[] })[] };
    return rows.map((a) => ({
      id: a.id,
      total: a.available_slots,
      occupied: a.held_slots.reduce<Slots>((acc, h) => addSlots(acc, h), {}),
      architecture: a.architecture,
    }));
  }

  /**
   * Places sessions on one agent in one transaction that locks the agent row (so two managers
   * never over-commit it) and recounts what it holds: each session that still fits moves
   * PENDING → SCHEDULED with its kernels (guarded, with their events). Returns those placed,
   * each with its kernels as moved; none when the agent is gone. The caller notifies after commit.
   */
  async commitPlacement(agentId: string, list: SessionRow[]): Promise<Moved[]> {
    return this.db.transaction(async (trx) => {
      const agent = (await trx('agents').where({ id: agentId, status: 'ALIVE' }).forUpdate().first()) as
        AgentRow | undefined;
      if (!agent) return [];
      const held = (await occupiedByAgent(trx, [agentId])).get(agentId) ?? {};
      let free = subtractSlots(agent.available_slots, held);
      const placed: Moved[] = [];
      for (const s of list) {
        const need = scaleSlots(s.requested_slots, s.cluster_size);
        if (!fits(need, free) || !runsArch(agent, s.architecture)) continue;
        const moved = await this.sessions.moveIn(trx, s.id, 'SCHEDULED', {
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
}

/** Slots held on each of these agents by kernels of sessions that are not over, in one read. */
async function occupiedByAgent(db: Knex | Knex.Transaction, agentIds: string[]): Promise<Map<string, Slots>> {
  const rows = (await db('kernels')
    .whereIn('agent_id', agentIds)
    .whereIn('status', [...ACTIVE_STATUSES])
    .select('agent_id', 'occupied_slots')) as Pick<KernelRow, 'agent_id' | 'occupied_slots'>[];
  const out = new Map<string, Slots>();
  for (const r of rows) out.set(r.agent_id!, addSlots(out.get(r.agent_id!) ?? {}, r.occupied_slots));
  return out;
}
