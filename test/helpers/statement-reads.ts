import type { ExecutionContext } from 'ava';
import type { Db } from '../../src/persistence/db.js';
import { rowsCounted, type RanQuery } from '../../src/persistence/plan-check.js';
import { GLANCE_SQL, type GlanceRow } from '../../src/persistence/scheduler-sql.js';

/** The statement named `name` (a prepared statement's name) that `run` sent through `db`, as knex sent it. */
export async function captured(db: Db, name: string, run: () => Promise<unknown>): Promise<RanQuery> {
  let q: RanQuery | null = null;
  const capture = (x: { sql?: string; bindings?: unknown[]; options?: { name?: string } }) => {
    if (x.sql && x.options?.name === name) q = { sql: x.sql, bindings: x.bindings ?? [] };
  };
  db.on('query', capture);
  try {
    await run();
  } finally {
    db.removeListener('query', capture);
  }
  if (!q) throw new Error(`${name} was not sent`);
  return q;
}

/** `q` reads at most `few` rows of each of `tables` (rowsCounted: the functions it calls included). */
export async function assertReadsFew(
  t: ExecutionContext,
  db: Db,
  what: string,
  q: RanQuery,
  tables: readonly string[],
  few: number,
): Promise<void> {
  const read = await rowsCounted(db, q, tables);
  t.log(`${what}: ${JSON.stringify(read)}`);
  for (const [table, n] of Object.entries(read)) t.true(n <= few, `${what} read ${n} rows of ${table}`);
}

/** What the dispatcher's glance says: whether any PENDING session is one the survey has to look at. */
export async function glanceUnusual(db: Db): Promise<boolean> {
  const { rows } = (await db.raw(GLANCE_SQL)) as { rows: GlanceRow[] };
  return rows[0]!.unusual;
}
