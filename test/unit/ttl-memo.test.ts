import test from 'ava';
import { TtlMemo } from '../../src/persistence/ttl-memo.js';

/** A thenable that counts how often it is run, as a knex query builder runs its query per `then`. */
function query<T>(value: T) {
  const q = {
    runs: 0,
    then<R1 = T, R2 = never>(
      ok?: ((v: T) => R1 | PromiseLike<R1>) | null,
      fail?: ((e: unknown) => R2 | PromiseLike<R2>) | null,
    ): PromiseLike<R1 | R2> {
      q.runs += 1;
      return Promise.resolve(value).then(ok, fail);
    },
  };
  return q;
}

test('a thenable load runs once per key within the TTL, however many callers await it', async (t) => {
  let now = 1_000;
  const memo = new TtlMemo(2_000, { now: () => now });
  const q = query({ name: 'default' });
  const first = await Promise.all([memo.get('policy:default', () => q), memo.get('policy:default', () => q)]);
  await memo.get('policy:default', () => q);
  t.deepEqual(first, [{ name: 'default' }, { name: 'default' }]);
  t.is(q.runs, 1, 'one query for every caller');
  now += 1_999;
  await memo.get('policy:default', () => q);
  t.is(q.runs, 1, 'still within the TTL');
  now += 1;
  await memo.get('policy:default', () => q);
  t.is(q.runs, 2, 'loaded again once the TTL passed');
});

test('forget makes the next caller load afresh; forgetWhere drops every matching key', async (t) => {
  const memo = new TtlMemo(60_000);
  let version = 0;
  const load = async () => ++version;
  t.is(await memo.get('kp:A', load), 1);
  t.is(await memo.get('kp:A', load), 1);
  memo.forget('kp:A');
  t.is(await memo.get('kp:A', load), 2);
  await memo.get('image:d1\u0000python', load);
  await memo.get('image:d2\u0000python', load);
  memo.forgetWhere((k) => k.startsWith('image:d1\u0000'));
  t.is(await memo.get('image:d1\u0000python', load), 5, 'd1 loaded again');
  t.is(await memo.get('image:d2\u0000python', load), 4, 'd2 still remembered');
});

test('a failed load is not remembered; the callers that shared it get its error', async (t) => {
  const memo = new TtlMemo(60_000);
  let runs = 0;
  const load = async () => {
    runs += 1;
    if (runs === 1) throw new Error('database away');
    return runs;
  };
  const [a, b] = await Promise.allSettled([memo.get('sg:x', load), memo.get('sg:x', load)]);
  t.is(a.status, 'rejected');
  t.is(b.status, 'rejected');
  t.is(await memo.get('sg:x', load), 2);
  t.is(await memo.get('sg:x', load), 2);
});

test('a TTL of 0 remembers nothing but still runs a thenable once per caller', async (t) => {
  const memo = new TtlMemo(0);
  const q = query(7);
  t.is(await memo.get('k', () => q), 7);
  t.is(await memo.get('k', () => q), 7);
  t.is(q.runs, 2);
});

test('past maxEntries the memo starts over instead of growing', async (t) => {
  const memo = new TtlMemo(60_000, { maxEntries: 2 });
  let runs = 0;
  const load = async () => ++runs;
  await memo.get('a', load);
  await memo.get('b', load);
  await memo.get('c', load);
  t.is(runs, 3);
  await memo.get('a', load);
  t.is(runs, 4, 'a was dropped when the memo was full');
});
