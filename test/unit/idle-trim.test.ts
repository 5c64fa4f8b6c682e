import test from 'ava';
import { fullCollection, IdleTrim, type AgentActivity } from '../../src/workers/agent/idle-trim.js';

/** A trim over activity the test sets, counting its collections. */
function trimOf(): { set(a: AgentActivity): void; trim: IdleTrim; collected(): number } {
  let now: AgentActivity = { live: 0, taken: 0 };
  let n = 0;
  const trim = new IdleTrim(
    () => now,
    () => n++,
  );
  return { set: (a) => (now = a), trim, collected: () => n };
}

test('an agent that never took a session on is never collected', (t) => {
  const x = trimOf();
  for (let i = 0; i < 5; i++) t.false(x.trim.check());
  t.is(x.collected(), 0);
});

test('one collection a whole quiet interval after the last session, then none until the next', (t) => {
  const x = trimOf();
  x.set({ live: 2, taken: 2 });
  t.false(x.trim.check(), 'sessions live');
  x.set({ live: 0, taken: 3 });
  t.false(x.trim.check(), 'one more came and went since: not a quiet interval yet');
  t.true(x.trim.check(), 'quiet since the check before');
  t.false(x.trim.check(), 'once');
  t.false(x.trim.check());
  x.set({ live: 1, taken: 4 });
  t.false(x.trim.check());
  x.set({ live: 0, taken: 4 });
  t.true(x.trim.check(), 'the next burst is collected after in turn');
  t.is(x.collected(), 2);
});

test('sessions that come and go between two checks count as activity', (t) => {
  const x = trimOf();
  x.set({ live: 0, taken: 5 });
  t.false(x.trim.check(), 'five taken on and ended since the start');
  t.true(x.trim.check());
  t.is(x.collected(), 1);
});

test('a long-lived session holds the collection off for as long as it runs', (t) => {
  const x = trimOf();
  x.set({ live: 1, taken: 1 });
  for (let i = 0; i < 10; i++) t.false(x.trim.check());
  x.set({ live: 0, taken: 1 });
  t.true(x.trim.check());
});

test('this V8 gives the full collection, and it frees what nothing holds', async (t) => {
  const ref = new WeakRef({ big: new Array(1_000_000).fill(1) });
  // A WeakRef's target is kept until the job that made it ends.
  await new Promise((resolve) => setImmediate(resolve));
  const heap = fullCollection();
  t.is(ref.deref(), undefined, 'collected');
  t.true(heap.before - heap.after >= 4_000_000, `the array (8 MB) freed (${heap.before} → ${heap.after})`);
});
