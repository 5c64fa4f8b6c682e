import test from 'ava';
import knexFactory from 'knex';
import { isDatabaseUnavailable } from '../../src/persistence/db.js';
import { preparedRaw } from '../../src/persistence/prepared.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

/**
 * preparedRaw sends its named statements with node-postgres on a connection of knex's pool,
 * or on the transaction's own connection: a transaction's statements commit or roll back with
 * it; values, results, errors and knex's `query` event are as they were through knex's raw.
 */
let database: TestDatabase;

test.before(async () => {
  database = await createTestDatabase();
});
test.after.always(async () => {
  await database?.drop();
});

/** knex's own pools of these tests warn of what the tests provoke: not printed. */
const quiet = { warn() {}, error() {}, deprecate() {}, debug() {} };

const INSERT = 'INSERT INTO scaling_groups (name) VALUES (?) RETURNING name';
const COUNT = 'SELECT count(*)::int AS n FROM scaling_groups WHERE name = ?';

async function count(name: string): Promise<number> {
  const { rows } = await preparedRaw<{ n: number }>(database.db, 'test_count', COUNT, [name]);
  return rows[0]!.n;
}

test.serial('inside a transaction that rolls back, a statement leaves nothing', async (t) => {
  const { db } = database;
  const trx = await db.transaction();
  const { rows } = await preparedRaw<{ name: string }>(trx, 'test_insert', INSERT, ['rolled-back']);
  t.deepEqual(rows, [{ name: 'rolled-back' }]);
  // The transaction's connection sees its row; the pool's do not (not committed).
  const inside = await preparedRaw<{ n: number }>(trx, 'test_count', COUNT, ['rolled-back']);
  t.is(inside.rows[0]!.n, 1);
  t.is(await count('rolled-back'), 0);
  await trx.rollback();
  t.is(await count('rolled-back'), 0);
});

test.serial('inside a transaction that commits, the statement is written with it', async (t) => {
  await database.db.transaction(async (trx) => {
    await preparedRaw(trx, 'test_insert', INSERT, ['committed']);
  });
  t.is(await count('committed'), 1);
});

test.serial('a completed transaction takes no more statements', async (t) => {
  const trx = await database.db.transaction();
  await trx.commit();
  await t.throwsAsync(preparedRaw(trx, 'test_insert', INSERT, ['late']), {
    message: /Transaction query already complete/,
  });
  t.is(await count('late'), 0);
});

test.serial('values and results are those knex raw gave', async (t) => {
  const { db } = database;
  const sql =
    'SELECT ?::timestamptz AS at, ?::text[] AS ids, ?::jsonb AS obj, ?::jsonb AS text, ?::int AS n, ?::text AS nul';
  const bindings = [
    new Date('2026-11-30T12:00:00.123Z'),
    ['a', 'b'],
    { cpu: 1 } as never,
    '{"x":[1]}',
    7,
    null,
  ];
  const direct = await preparedRaw(db, 'test_values', sql, bindings);
  const viaKnex = (await db.raw(sql, bindings)) as { rows: unknown[]; rowCount: number; command: string };
  t.deepEqual(direct.rows, viaKnex.rows);
  t.is(direct.rowCount, viaKnex.rowCount);
  t.is(direct.command, viaKnex.command);
});

test.serial('one name stands for one text; bindings must match the placeholders', async (t) => {
  const { db } = database;
  await t.throwsAsync(preparedRaw(db, 'test_count', `${COUNT} AND true`, ['x']), {
    message: /its text changed/,
  });
  await t.throwsAsync(preparedRaw(db, 'test_count', COUNT, []), { message: /Expected 0 bindings, saw 1/ });
  await t.throwsAsync(preparedRaw(db, 'test_count', COUNT, [undefined as never]), {
    message: /Undefined binding/,
  });
});

test.serial(
  'a failed statement keeps its SQLSTATE and names its text; the connection goes back',
  async (t) => {
    const { db } = database;
    await preparedRaw(db, 'test_insert', INSERT, ['dup']);
    for (let i = 0; i < 6; i++) {
      // More failures than the pool has connections: each one went back to the pool.
      const err = await t.throwsAsync(preparedRaw(db, 'test_insert', INSERT, ['dup']));
      t.is((err as { code?: string }).code, '23505');
      t.true(err!.message.startsWith('INSERT INTO scaling_groups (name) VALUES ($1)'), err!.message);
      t.false(isDatabaseUnavailable(err));
    }
    t.is(await count('dup'), 1);
  },
);

test.serial("knex's query event carries the statement as sent", async (t) => {
  const { db } = database;
  const seen: { sql?: string; bindings?: unknown[] }[] = [];
  const capture = (q: { sql?: string; bindings?: unknown[] }) => seen.push(q);
  db.on('query', capture);
  try {
    await preparedRaw(db, 'test_count', COUNT, ['x']);
    await db.transaction((trx) => preparedRaw(trx, 'test_count', COUNT, ['y']));
  } finally {
    db.removeListener('query', capture);
  }
  const ours = seen.filter((q) => q.sql === 'SELECT count(*)::int AS n FROM scaling_groups WHERE name = $1');
  t.deepEqual(
    ours.map((q) => q.bindings),
    [['x'], ['y']],
  );
});

test.serial(
  'no pooled connection in time: a KnexTimeoutError, which counts as the database unavailable',
  async (t) => {
    const db = knexFactory({
      client: 'pg',
      connection: database.url,
      pool: { min: 0, max: 1 },
      acquireConnectionTimeout: 300,
      log: quiet,
    });
    const trx = await db.transaction(); // holds the only connection
    try {
      const err = await t.throwsAsync(preparedRaw(db, 'test_count', COUNT, ['x']));
      t.is(err!.name, 'KnexTimeoutError');
      t.true(isDatabaseUnavailable(err));
    } finally {
      await trx.rollback();
      await db.destroy();
    }
  },
);

test.serial(
  'a connection whose server process ended: an error that counts as the database unavailable',
  async (t) => {
    const db = knexFactory({ client: 'pg', connection: database.url, pool: { min: 0, max: 1 }, log: quiet });
    try {
      const trx = await db.transaction();
      const { rows } = await preparedRaw<{ pid: number }>(trx, 'test_pid', 'SELECT pg_backend_pid() AS pid');
      await database.db.raw('SELECT pg_terminate_backend(?)', [rows[0]!.pid]);
      const err = await t.throwsAsync(preparedRaw(trx, 'test_count', COUNT, ['x']));
      t.true(isDatabaseUnavailable(err), err!.message);
      await trx.rollback().catch(() => undefined);
      // The pool drops the dead connection and opens another.
      const again = await preparedRaw<{ n: number }>(db, 'test_count', COUNT, ['x']);
      t.is(again.rows[0]!.n, 0);
    } finally {
      await db.destroy();
    }
  },
);
