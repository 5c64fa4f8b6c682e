import test from 'ava';
import knexFactory from 'knex';
import { positional } from '../../src/persistence/prepared.js';

/**
 * preparedRaw sends its statements to node-postgres itself: the `?` placeholders must become
 * the `$n` knex's raw made of them, and the values must be what knex passed on (compared with
 * knex's own compilation, which needs no server).
 */
const knex = knexFactory({ client: 'pg' });

function knexNative(sql: string, bindings: unknown[]) {
  return knex
    .raw(sql, bindings as never)
    .toSQL()
    .toNative();
}

test('each ? becomes $1, $2, … in order, as knex turns it', (t) => {
  const sql =
    'SELECT * FROM sessions WHERE agent_id = ? AND status IN (?, ?) AND updated_at < ? LIMIT (SELECT ?::int)';
  const { text, count } = positional(sql);
  t.is(
    text,
    'SELECT * FROM sessions WHERE agent_id = $1 AND status IN ($2, $3) AND updated_at < $4 LIMIT (SELECT $5::int)',
  );
  t.is(count, 5);
  t.is(text, knexNative(sql, [1, 2, 3, 4, 5]).sql);
});

test('a text without placeholders is kept as it is', (t) => {
  const sql = `SELECT * FROM agents WHERE status IN ('ALIVE', 'LOST')`;
  t.deepEqual(positional(sql), { text: sql, count: 0 });
});

test('an escaped \\? is a literal ? (jsonb operators), as in knex', (t) => {
  const sql = 'SELECT status_data \\? ? AS has, ?::jsonb \\?| array[?] AS any';
  const { text, count } = positional(sql);
  t.is(text, 'SELECT status_data ? $1 AS has, $2::jsonb ?| array[$3] AS any');
  t.is(count, 3);
  t.is(text, knexNative(sql, ['a', '{}', 'b']).sql);
});

test('?? (an identifier bound at run time) is refused: the text would vary with the value', (t) => {
  t.throws(() => positional('SELECT ?? FROM sessions WHERE id = ?'), { message: /\?\?/ });
});

test('knex passes Dates, arrays, objects and JSON texts on to node-postgres unchanged', (t) => {
  const at = new Date('2026-11-30T12:00:00Z');
  const ids = ['a', 'b'];
  const obj = { cpu: 1 };
  const nested = [['x'], ['y']];
  const bindings = [at, ids, obj, JSON.stringify(obj), 7, null, nested, true];
  const native = knexNative('SELECT ?, ?, ?, ?, ?, ?, ?, ?', bindings);
  t.is(native.bindings.length, bindings.length);
  native.bindings.forEach((b, i) => t.is<unknown, unknown>(b, bindings[i], `binding ${i} is the same value`));
});
