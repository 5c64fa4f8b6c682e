import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { Knex } from 'knex';

const here = dirname(fileURLToPath(import.meta.url));

/** Where the compiled migrations are (this file runs from dist/). */
export const migrationsDirectory = join(here, 'migrations');

/** knex settings for a PostgreSQL URL; the CLI's `bai db migrate` and the manager use the same. */
export function knexConfig(
  databaseUrl: string,
  pool: { min: number; max: number } = { min: 0, max: 10 },
): Knex.Config {
  return {
    client: 'pg',
    connection: databaseUrl,
    pool,
    migrations: { directory: migrationsDirectory, loadExtensions: ['.js'], tableName: 'knex_migrations' },
  };
}

export default knexConfig(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/bai');
