import { join } from 'node:path';
import { loadManagerConfig } from '../config/config.js';
import { openDb, type Db } from '../persistence/db.js';
import { EMBEDDED_POOL, startEmbeddedPostgres } from '../persistence/embedded-postgres.js';
import { freePort } from '../stack/ports.js';

/** Opens the manager's database for an admin command: DATABASE_URL, or the embedded one (manager stopped). */
export async function withDb<T>(env: NodeJS.ProcessEnv, fn: (db: Db) => Promise<T>): Promise<T> {
  const cfg = loadManagerConfig(env);
  const embedded = cfg.databaseUrl
    ? null
    : await startEmbeddedPostgres(join(cfg.stateDir, 'pgdata'), await freePort());
  // knex would print each failed connection with its stack; the error that ends the command
  // (one line, through BaseCommand) says it all.
  const quiet = { warn() {}, error() {}, debug() {}, deprecate() {} };
  const db = openDb(
    cfg.databaseUrl ?? embedded!.url,
    embedded ? { ...EMBEDDED_POOL } : { min: 0, max: 2 },
    quiet,
  );
  try {
    return await fn(db);
  } finally {
    await db.destroy();
    await embedded?.close();
  }
}
