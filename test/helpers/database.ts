import { randomBytes } from 'node:crypto';
import { openDb, migrateLatest, type Db } from '../../src/persistence/db.js';
import { seedDefaults, type SeedResult } from '../../src/persistence/seed.js';
import { testEnv } from './env.js';

export interface TestDatabase {
  url: string;
  db: Db;
  admin: SeedResult;
  drop(): Promise<void>;
}

/** A database of its own for one test file: created, migrated and seeded; dropped after. */
export async function createTestDatabase(
  opts: {
    migrate?: boolean;
    /** Another server than the shared one (its URL may carry ?sslmode=…). */ serverUrl?: string;
  } = {},
): Promise<TestDatabase> {
  const databaseUrl = opts.serverUrl ?? testEnv().databaseUrl;
  const name = `bai_t_${randomBytes(6).toString('hex')}`;
  const adminDb = openDb(databaseUrl, { min: 0, max: 1 });
  await adminDb.raw(`CREATE DATABASE ${name}`);
  const url = databaseUrl.replace(/\/[^/?]*(\?.*)?$/, `/${name}$1`);
  const db = openDb(url, { min: 0, max: 4 });
  let admin: SeedResult = { accessKey: '', secretKey: '', created: false };
  if (opts.migrate !== false) {
    await migrateLatest(db);
    admin = await seedDefaults(db);
  }
  return {
    url,
    db,
    admin,
    async drop() {
      await db.destroy();
      await adminDb.raw(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await adminDb.destroy();
    },
  };
}
