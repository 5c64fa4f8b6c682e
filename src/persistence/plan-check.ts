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
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: ScanNode[];
}

interface PlanConnection {
  query(text: string, values?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  escapeLiteral(s: string): string;
}

/**
 * PostgreSQL's plan for `q` as EXPLAIN (FORMAT JSON) gives it. `generic`: the plan a prepared
 * statement keeps under `plan_cache_mode = force_generic_plan` (PREPARE, then EXPLAIN EXECUTE
 * with the bindings as literals), the one the manager's generic-plan pools run; otherwise the
 * plan for these values. `analyze`: run as well (EXPLAIN ANALYZE), in a transaction rolled
 * back, so a statement that writes leaves nothing behind. `settings` (`name=value`, as a
 * function's SET clause lists them): set for it, in a transaction rolled back.
 */
async function explain(
  db: Db,
  q: RanQuery,
  opts: { generic: boolean; analyze?: boolean; settings?: readonly string[] },
): Promise<{ Plan: ScanNode }[]> {
  const conn = (await db.client.acquireConnection()) as PlanConnection;
  // Each value as node-postgres binds it (arrays as {…}, dates, JSON), quoted as a literal.
  const literal = (v: unknown): string => {
    const text = pgUtils.prepareValue(v);
    return text === null ? 'NULL' : conn.escapeLiteral(String(text));
  };
  const how = opts.analyze ? '(ANALYZE, FORMAT JSON)' : '(FORMAT JSON)';
  let raw: unknown;
  const inTransaction = opts.analyze === true || (opts.settings ?? []).length > 0;
  try {
    if (inTransaction) {
      await conn.query('BEGIN');
      for (const setting of opts.settings ?? []) {
        const [name, value] = setting.split('=');
        await conn.query(`SELECT set_config($1, $2, true)`, [name, value]);
      }
    }
    try {
      if (opts.generic) {
        await conn.query('SET plan_cache_mode = force_generic_plan');
        try {
          await conn.query(`PREPARE bai_plan_probe AS ${q.sql}`);
          try {
            const args = q.bindings.length > 0 ? `(${q.bindings.map(literal).join(', ')})` : '';
            raw = (await conn.query(`EXPLAIN ${how} EXECUTE bai_plan_probe${args}`)).rows[0]?.['QUERY PLAN'];
          } finally {
            await conn.query('DEALLOCATE bai_plan_probe');
          }
        } finally {
          await conn.query('RESET plan_cache_mode');
        }
      } else {
        raw = (await conn.query(`EXPLAIN ${how} ${q.sql}`, q.bindings)).rows[0]?.['QUERY PLAN'];
      }
    } finally {
      if (inTransaction) await conn.query('ROLLBACK');
    }
  } finally {
    await db.client.releaseConnection(conn);
  }
  return (typeof raw === 'string' ? JSON.parse(raw) : raw) as { Plan: ScanNode }[];
}

/** Every node of the plans, depth first. */
function* nodesOf(doc: { Plan: ScanNode }[]): Generator<ScanNode> {
  const walk = function* (n: ScanNode): Generator<ScanNode> {
    yield n;
    for (const c of n.Plans ?? []) yield* walk(c);
  };
  for (const d of doc) yield* walk(d.Plan);
}

/** Every scan of PostgreSQL's plan for `q` (EXPLAIN, not run; `generic`, `settings` as for explain). */
export async function planScans(
  db: Db,
  q: RanQuery,
  opts: { generic: boolean; settings?: readonly string[] },
): Promise<PlanScan[]> {
  const found: PlanScan[] = [];
  for (const n of nodesOf(await explain(db, q, opts))) {
    if (/Scan$/.test(n['Node Type'] ?? ''))
      found.push({
        node: n['Node Type']!,
        relation: n['Relation Name'] ?? null,
        index: n['Index Name'] ?? null,
      });
  }
  return found;
}

/**
 * How many rows of each table `q` read when run (EXPLAIN ANALYZE in a transaction rolled
 * back; `generic` and `settings` as for explain): over every scan of the table, the rows it
 * returned and those its filter or recheck dropped, times its loops. What a statement costs as
 * its tables grow, whatever the time it took. A function's own statements are not in its plan.
 */
export async function rowsRead(
  db: Db,
  q: RanQuery,
  opts: { generic: boolean; settings?: readonly string[] },
): Promise<Record<string, number>> {
  const read: Record<string, number> = {};
  for (const n of nodesOf(await explain(db, q, { ...opts, analyze: true }))) {
    const table = n['Relation Name'];
    if (!table || !/Scan$/.test(n['Node Type'] ?? '')) continue;
    const perLoop =
      (n['Actual Rows'] ?? 0) +
      (n['Rows Removed by Filter'] ?? 0) +
      (n['Rows Removed by Index Recheck'] ?? 0);
    read[table] = (read[table] ?? 0) + Math.round(perLoop * (n['Actual Loops'] ?? 1));
  }
  return read;
}

/**
 * A function's statement (a SQL function's body, or a PL/pgSQL function's RETURN QUERY; its
 * parameters as `$1`, `$2`, …) and the settings of its SET clause: what to explain, with those
 * settings, for the plan the function's own statement gets (a function's statements are not in
 * the plan of the statement that calls it).
 */
export async function functionBody(db: Db, name: string): Promise<{ sql: string; settings: string[] }> {
  const { rows } = (await db.raw(`SELECT prosrc, proconfig FROM pg_proc WHERE proname = ?`, [name])) as {
    rows: { prosrc: string; proconfig: string[] | null }[];
  };
  if (rows.length !== 1) throw new Error(`${rows.length} functions named ${name}`);
  const { prosrc, proconfig } = rows[0]!;
  const sql = /RETURN QUERY\s+([\s\S]*?);\s*END/i.exec(prosrc)?.[1] ?? prosrc;
  return { sql, settings: proconfig ?? [] };
}

/**
 * The rows of each of `tables` that `q` reads, by PostgreSQL's counters of the transaction:
 * those its sequential scans returned and the entries its index scans returned, the statements
 * of the functions it calls included (they are not in its plan). Run `runs` times in a
 * transaction rolled back, on one connection; the most one run read. A PL/pgSQL function's
 * statements are planned for their values at the first five calls on a connection, after which
 * PostgreSQL may keep a generic plan: seven runs see both.
 */
export async function rowsCounted(
  db: Db,
  q: RanQuery,
  tables: readonly string[],
  runs = 7,
): Promise<Record<string, number>> {
  const conn = (await db.client.acquireConnection()) as PlanConnection;
  const counts = async (): Promise<Record<string, number>> => {
    const { rows } = await conn.query(
      `SELECT c.relname AS name, pg_stat_get_xact_tuples_returned(c.oid)
              + (SELECT coalesce(sum(pg_stat_get_xact_tuples_returned(i.indexrelid)), 0)
                   FROM pg_index i WHERE i.indrelid = c.oid) AS n
         FROM pg_class c WHERE c.relkind = 'r' AND c.relname = ANY ($1)`,
      [tables],
    );
    return Object.fromEntries((rows as { name: string; n: string }[]).map((r) => [r.name, Number(r.n)]));
  };
  const most: Record<string, number> = Object.fromEntries(tables.map((t) => [t, 0]));
  try {
    await conn.query('BEGIN');
    try {
      for (let i = 0; i < runs; i++) {
        const before = await counts();
        await conn.query(q.sql, [...q.bindings]);
        const after = await counts();
        for (const t of tables) most[t] = Math.max(most[t]!, (after[t] ?? 0) - (before[t] ?? 0));
      }
    } finally {
      await conn.query('ROLLBACK');
    }
  } finally {
    await db.client.releaseConnection(conn);
  }
  return most;
}
