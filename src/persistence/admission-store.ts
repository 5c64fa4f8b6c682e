import { preparedRaw } from './prepared.js';
import type { Db } from './db.js';
import type { AgentRow } from './rows.js';

/** What admission reads of an agent: which slots it has and which architecture it runs. */
export type AdmissionAgent = Pick<AgentRow, 'id' | 'scaling_group' | 'architecture' | 'available_slots'>;

/** The live facts admission needs, for any number of requests: read fresh, never cached. */
export interface AdmissionFacts {
  /** The ALIVE agents of each scaling group asked for (a group without any: absent). */
  agents: Map<string, AdmissionAgent[]>;
  /** The PENDING sessions of each keypair asked for (none: absent, i.e. 0). */
  pending: Map<string, number>;
}

/**
 * The reads of admission that must be current (src/api/admission-reads.ts): the alive agents
 * of scaling groups, whose slots and architectures decide whether a request can ever run, and
 * the pending sessions of keypairs, for their policy's limit. Both, for every request of a
 * batch, in ONE statement. The manager runs it on a connection that keeps its generic plan
 * (openGenericPlanDb): on the main pool PostgreSQL planned it for its values on every call,
 * 0.6–1.2 ms a plan against sessions' partial indexes for 0.1–0.16 ms of running
 * (docs/benchmarks.md, round twenty-nine). Its plan does not hinge on the values (keypairs are
 * counted through sessions_pending_keypair_idx, whose predicate is literal in the text), which
 * backlog-reads checks in both plans.
 */
export class AdmissionStore {
  constructor(private readonly db: Db) {}

  async facts(scalingGroups: readonly string[], accessKeys: readonly string[]): Promise<AdmissionFacts> {
    // No keypair asked: no count at all (an empty ANY still had PostgreSQL scan the sessions).
    const pending =
      accessKeys.length === 0
        ? `'{}'::jsonb`
        : // Counted keypair by keypair from sessions_pending_keypair_idx (migration
          // 20261202160000; `domain_name IS NOT NULL`, true of every row, is its predicate):
          // a planner whose statistics had not seen the backlog read sessions_status_idx for an
          // array of keypairs, every PENDING session of every keypair, on every submit
          // (docs/benchmarks.md, round twenty-three).
          `(SELECT coalesce(jsonb_object_agg(k.key, c.n) FILTER (WHERE c.n > 0), '{}'::jsonb)
              FROM unnest(?::text[]) AS k (key)
              CROSS JOIN LATERAL (SELECT count(*) AS n FROM sessions s
                                   WHERE s.access_key = k.key AND s.status = 'PENDING'
                                     AND s.domain_name IS NOT NULL) c)`;
    // Named (two texts: with or without the keypairs' count): every group commit of creates reads it.
    const res = (await preparedRaw(
      this.db,
      accessKeys.length === 0 ? 'bai_admission_agents' : 'bai_admission_facts',
      `SELECT
         (SELECT coalesce(jsonb_agg(jsonb_build_object('id', a.id, 'scaling_group', a.scaling_group,
                   'architecture', a.architecture, 'available_slots', a.available_slots) ORDER BY a.id), '[]'::jsonb)
            FROM agents a WHERE a.status = 'ALIVE' AND a.scaling_group = ANY(?::text[])) AS agents,
         ${pending} AS pending`,
      accessKeys.length === 0 ? [[...scalingGroups]] : [[...scalingGroups], [...accessKeys]],
    )) as { rows: { agents: AdmissionAgent[]; pending: Record<string, number> }[] };
    const row = res.rows[0]!;
    const agents = new Map<string, AdmissionAgent[]>();
    for (const a of row.agents) {
      const list = agents.get(a.scaling_group);
      if (list) list.push(a);
      else agents.set(a.scaling_group, [a]);
    }
    return { agents, pending: new Map(Object.entries(row.pending).map(([k, n]) => [k, Number(n)])) };
  }
}
