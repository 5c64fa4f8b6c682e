import type { Db } from './db.js';

/** A query as knex ran it: positional SQL ($1, $2, …) and its bindings. */
export interface RanQuery {
  sql: string;
  bindings: readonly unknown[];
  /** Run with a generic plan (prepared.ts genericRaw): that is the plan to check. */
  generic?: boolean;
}

/** A bound value as an SQL literal (for EXECUTE's arguments; a generic plan ignores them). */
function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const text = v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : JSON.stringify(v);
  return `'${text.replace(/'/g, "''")}'`;
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
    let res: { rows: { 'QUERY PLAN': unknown }[] };
    if (q.generic) {
      // PostgreSQL 15 has no EXPLAIN (GENERIC_PLAN): prepare it and explain its execution
      // with the generic plan forced, as genericRaw runs it.
      await conn.query('BEGIN', []);
      try {
        await conn.query('SET LOCAL plan_cache_mode = force_generic_plan', []);
        await conn.query(`PREPARE bai_plan_check AS ${q.sql}`, []);
        const args = q.bindings.length > 0 ? `(${q.bindings.map(literal).join(', ')})` : '';
        res = await conn.query(`EXPLAIN (FORMAT JSON) EXECUTE bai_plan_check${args}`, []);
      } finally {
        await conn.query('ROLLBACK', []);
        await conn.query('DEALLOCATE ALL', []);
      }
    } else res = await conn.query(`EXPLAIN (FORMAT JSON) ${q.sql}`, q.bindings);
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
