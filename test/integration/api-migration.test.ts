import test from 'ava';
import { migrateLatest, migrateRollbackAll } from '../../src/persistence/db.js';
import { createTestDatabase } from '../helpers/database.js';

test('the migrations go latest → rollback → latest, the keypair rate_limit column included', async (t) => {
  const d = await createTestDatabase();
  t.teardown(() => d.drop());
  t.true(await d.db.schema.hasColumn('keypairs', 'rate_limit'));
  t.true(await d.db.schema.hasColumn('api_tokens', 'last_used_at'));
  await migrateRollbackAll(d.db);
  t.false(await d.db.schema.hasTable('keypairs'));
  const applied = await migrateLatest(d.db);
  t.true(applied.some((m) => m.includes('keypair_rate_limit')));
  t.true(await d.db.schema.hasColumn('keypairs', 'rate_limit'));
});
