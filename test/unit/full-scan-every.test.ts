import test from 'ava';
import { fullScanEvery } from '../../src/persistence/scheduler-store.js';

test('a whole read comes again after 5 s, or 100 times its duration, 500 when it wrote nothing', (t) => {
  t.is(fullScanEvery(10, 3), 5_000, 'a small backlog: every 5 s');
  t.is(fullScanEvery(10, 0), 5_000);
  t.is(fullScanEvery(120, 3), 12_000, 'a large one: a hundredth of the time');
  t.is(fullScanEvery(120, 0), 60_000, 'nothing changed: a five-hundredth');
});
