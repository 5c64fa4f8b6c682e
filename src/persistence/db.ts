import knexFactory, { type Knex } from 'knex';
import pg from 'pg';
import { knexConfig } from '../../knexfile.js';

// Return bigint ids (session_events.id) as numbers and timestamps as Date (pg's default).
pg.types.setTypeParser(20, (v) => Number(v));

export type Db = Knex;

/** Opens a knex pool on a PostgreSQL URL; `log` replaces knex's console warnings (the CLI mutes them). */
export function openDb(databaseUrl: string, pool?: { min: number; max: number }, log?: Knex.Logger): Db {
  return knexFactory(log ? { ...knexConfig(databaseUrl, pool), log } : knexConfig(databaseUrl, pool));
}

/**
 * A pool of `connections` (one by default) whose prepared statements always use their generic
 * plan (`plan_cache_mode = force_generic_plan`, set on the connection when it opens): the
 * dispatcher's pass reads (SchedulerStore), and the report statements run on their own
 * (SessionStore.alone), whose plans do not hinge on the values bound (the runnable scan reads
 * them through sub-selects, the reports find their row by primary key; history-indexes
 * explains each with them). The plan cache otherwise makes five custom plans first, on each
 * connection and again after each autovacuum of a table the statement reads
 * (docs/benchmarks.md, rounds six and ten): a few connections plan each text a few times.
 */
export function openGenericPlanDb(databaseUrl: string, log?: Knex.Logger, connections = 1): Db {
  const config = knexConfig(databaseUrl, { min: 1, max: connections });
  const pool = {
    ...config.pool,
    afterCreate(
      conn: { query(sql: string, cb: (err: Error | null) => void): void },
      done: (err: Error | null, c: unknown) => void,
    ) {
      conn.query('SET plan_cache_mode = force_generic_plan', (err) => done(err, conn));
    },
  };
  return knexFactory({ ...config, pool, ...(log ? { log } : {}) });
}

export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest()) as [number, string[]];
  return applied;
}

export async function migrateRollbackAll(db: Db): Promise<void> {
  await db.migrate.rollback(undefined, true);
}

/** Socket errors of a database that is down or unreachable. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/**
 * True when `err` says PostgreSQL cannot be reached or refuses work for now — a refused or
 * broken connection, SQLSTATE class 08 (connection exception), 57P01–57P03 (shutting down,
 * starting up), 53300 (too many connections), or no pooled connection in time — rather than a
 * fault of the request or the code. Looks through `cause` and AggregateError chains.
 */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 5) return false;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code) || code === '53300')
    return true;
  if (e.name === 'KnexTimeoutError') return true;
  const msg = typeof e.message === 'string' ? e.message : '';
  if (/Connection terminated|connection error and is not queryable|Timeout acquiring a connection/i.test(msg))
    return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isDatabaseUnavailable(x, depth + 1))) return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}

/** A transaction handle, passed back into store methods that run inside it. */
export type Tx = Knex.Transaction;
