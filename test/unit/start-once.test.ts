import test from 'ava';
import { newTracked, startOnce } from '../../src/workers/agent/tracked.js';

test('a second start while one is in flight waits for it and starts nothing', async (t) => {
  const tracked = newTracked('s1', 1, null, 'created');
  let starts = 0;
  let finish = () => {};
  const start = async () => {
    starts += 1;
    await new Promise<void>((r) => (finish = r));
  };
  const first = startOnce(tracked, start);
  let secondDone = false;
  const second = startOnce(tracked, start).then(() => (secondDone = true));
  await Promise.resolve();
  t.false(secondDone, 'the second caller waits for the start in flight');
  finish();
  await Promise.all([first, second]);
  t.is(starts, 1);
  t.falsy(tracked.starting, 'nothing in flight once it ended');
});

test('a failed start is shared with the waiting caller, then a new start may run', async (t) => {
  const tracked = newTracked('s2', 1, null, 'created');
  let starts = 0;
  const failing = async () => {
    starts += 1;
    throw new Error('engine gone');
  };
  const results = await Promise.allSettled([startOnce(tracked, failing), startOnce(tracked, failing)]);
  t.deepEqual(
    results.map((r) => r.status),
    ['rejected', 'rejected'],
  );
  t.is(starts, 1);
  await startOnce(tracked, async () => {
    starts += 1;
  });
  t.is(starts, 2);
});

test('starts of different sessions do not wait for each other', async (t) => {
  const a = newTracked('a', 1, null, 'created');
  const b = newTracked('b', 1, null, 'created');
  let runs = 0;
  let finishA = () => {};
  const pa = startOnce(a, async () => {
    runs += 1;
    await new Promise<void>((r) => (finishA = r));
  });
  await startOnce(b, async () => {
    runs += 1;
  });
  t.is(runs, 2, 'b started while a was still in flight');
  finishA();
  await pa;
});
