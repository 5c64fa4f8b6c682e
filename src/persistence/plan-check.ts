import pgUtils from 'pg/lib/utils.js';
import type { Db } from './db.js';

/** A query as knex ran it: positional SQL ($1, $2, …) and its bindings. */
export interface RanQuery {
  sql: string;
  bindings: readonly unknown[];
}

interface PlanNode {
  'Node Type'?: string;
  'Relation Name'?: string;
  Plans?: PlanNode[];
}

/**
 * The tables (of `tables`) that PostgreSQL's plan for `q` reads by sequential scan, from
 * EXPLAIN (FORMAT JSON) on a connection of `db`'s pool (the query itself is not run).
 */
export async function seqScannedTables(db: Db, q: RanQuery, tables: readonly string[]): Promise<string[]> {
  return (await planScans(db, q, { generic: false }))
    .filter((s) => s.node === 'Seq Scan' && s.relation !== null && tables.includes(s.relation))
    .map((s) => s.relation!);
}

/** Sequential scans of each table so far (pg_stat_user_tables; the statistics lag up to a second). */
export async function seqScanCounts(db: Db, tables: readonly string[]): Promise<Record<string, number>> {
  await db.raw('SELECT pg_stat_clear_snapshot()');
  const rows = (await db('pg_stat_user_tables')
    .whereIn('relname', [...tables])
    .select('relname', 'seq_scan')) as { relname: string; seq_scan: string | number }[];
  const out: Record<string, number> = {};
  for (const t of tables) out[t] = 0;
  for (const r of rows) out[r.relname] = Number(r.seq_scan);
  return out;
}

/** Updates the planner's statistics of every table (after a bulk load). */
export async function analyze(db: Db): Promise<void> {
  await db.raw('ANALYZE');
}

/** A node of a plan that reads a table or an index. */
export interface PlanScan {
  node: string;
  relation: string | null;
  index: string | null;
}

interface ScanNode extends PlanNode {
  'Index Name'?: string;
  Plans?: ScanNode[];
}

interface PlanConnection {
  query(text: string, values?: readonly unknown[]): Promise<{ rows: { 'QUERY PLAN': unknown }[] }>;
  escapeLiteral(s: string): string;
}

/**
 * Every scan of PostgreSQL's plan for `q` (EXPLAIN, not run). `generic`: the plan a prepared
 * statement keeps under `plan_cache_mode = force_generic_plan` (PREPARE, then EXPLAIN EXECUTE
 * with the bindings as literals), the one the manager's generic-plan pools run; otherwise the
 * plan for these values.
 */
export async function planScans(db: Db, q: RanQuery, opts: { generic: boolean }): Promise<PlanScan[]> {
  const conn = (await db.client.acquireConnection()) as PlanConnection;
  // Each value as node-postgres binds it (arrays as {…}, dates, JSON), quoted as a literal.
  const literal = (v: unknown): string => {
    const text = pgUtils.prepareValue(v);
    return text === null ? 'NULL' : conn.escapeLiteral(String(text));
  };
  let raw: unknown;
  try {
    if (opts.generic) {
      await conn.query('SET plan_cache_mode = force_generic_plan');
      try {
        await conn.query(`PREPARE bai_plan_probe AS ${q.sql}`);
        try {
          const args = q.bindings.length > 0 ? `(${q.bindings.map(literal).join(', ')})` : '';
          raw = (await conn.query(`EXPLAIN (FORMAT JSON) EXECUTE bai_plan_probe${args}`)).rows[0]?.[
            'QUERY PLAN'
          ];
        } finally {
          await conn.query('DEALLOCATE bai_plan_probe');
        }
      } finally {
        await conn.query('RESET plan_cache_mode');
      }
    } else {
      raw = (await conn.query(`EXPLAIN (FORMAT JSON) ${q.sql}`, q.bindings)).rows[0]?.['QUERY PLAN'];
    }
  } finally {
    await db.client.releaseConnection(conn);
  }
  const doc = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { Plan: ScanNode }[];
  const found: PlanScan[] = [];
  const walk = (n: ScanNode) => {
    if (/Scan$/.test(n['Node Type'] ?? ''))
      found.push({
        node: n['Node Type']!,
        relation: n['Relation Name'] ?? null,
        index: n['Index Name'] ?? null,
      });
    for (const c of n.Plans ?? []) walk(c);
  };
  for (const d of doc) walk(d.Plan);
  return found;
}
