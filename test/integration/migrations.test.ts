import test from 'ava';
import { createTestDatabase } from '../helpers/database.js';
import { migrateLatest, migrateRollbackAll } from '../../src/persistence/db.js';

test('migrations go latest → rollback → latest on a real PostgreSQL', async (t) => {
  const tdb = await createTestDatabase({ migrate: false });
  try {
    const tables = async () =>
      (
        (await tdb.db.raw(
          `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'knex_%' ORDER BY 1`,
        )) as {
          rows: { tablename: string }[];
        }
      ).rows.map((r) => r.tablename);
    const first = await migrateLatest(tdb.db);
    t.true(first.length >= 4);
    const all = await tables();
    for (const name of [
      'sessions',
      'kernels',
      'agents',
      'keypairs',
      'images',
      'image_aliases',
      'session_dependencies',
      'domains',
    ]) {
      t.true(all.includes(name), `${name} exists`);
    }
    await migrateRollbackAll(tdb.db);
    t.deepEqual(await tables(), []);
    const again = await migrateLatest(tdb.db);
    t.deepEqual(again, first);
    t.deepEqual(await tables(), all);
  } finally {
    await tdb.drop();
  }
});
