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
  const conn = (await db.client.acquireConnection()) as {
    query(text: string, values: readonly unknown[]): Promise<{ rows: { 'QUERY PLAN': unknown }[] }>;
  };
  try {
    const res = await conn.query(`EXPLAIN (FORMAT JSON) ${q.sql}`, q.bindings);
    const raw = res.rows[0]?.['QUERY PLAN'];
    const doc = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { Plan: PlanNode }[];
    const found: string[] = [];
    const walk = (n: PlanNode) => {
      if (n['Node Type'] === 'Seq Scan' && n['Relation Name'] && tables.includes(n['Relation Name']))
        found.push(n['Relation Name']);
      for (const c of n.Plans ?? []) walk(c);
    };
    for (const d of doc) walk(d.Plan);
    return found;
  } finally {
    await db.client.releaseConnection(conn);
  }
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
