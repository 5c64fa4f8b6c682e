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

export async function migrateLatest(db: Db): Promise<string[]> {
  const [, applied] = (await db.migrate.latest()) as [number, string[]];
  return applied;
}

export async function migrateRollbackAll(db: Db): Promise<void> {
  await db.migrate.rollback(undefined, true);
}
