import test from 'ava';
import { SingleFlight } from '../../src/metrics/single-flight.js';

test('concurrent callers share one run; a later call runs again', async (t) => {
  let runs = 0;
  let release = () => {};
  const f = new SingleFlight(async () => {
    runs += 1;
    await new Promise<void>((r) => (release = r));
    return runs;
  });
  const a = f.run();
  const b = f.run();
  const c = f.run();
  release();
  t.deepEqual(await Promise.all([a, b, c]), [1, 1, 1]);
  t.is(runs, 1);
  const d = f.run();
  release();
  t.is(await d, 2);
});

test('a failed run is shared, then forgotten', async (t) => {
  let runs = 0;
  const f = new SingleFlight(async () => {
    runs += 1;
    if (runs === 1) throw new Error('down');
    return runs;
  });
  const [a, b] = await Promise.allSettled([f.run(), f.run()]);
  t.is(a.status, 'rejected');
  t.is(b.status, 'rejected');
  t.is(await f.run(), 2);
});
