import test from 'ava';
import { clearLongTimeout, setLongTimeout, setLongTimeoutAt } from '../../src/workers/long-timer.js';
import { FakeTimers } from '../helpers/fake-timers.js';

const DAY = 86_400_000;

test('a 30-day timer does not fire early and fires at its end', (t) => {
  const clock = new FakeTimers();
  let firedAt = null as number | null;
  const start = clock.now();
  const timer = setLongTimeout(() => (firedAt = clock.now()), 30 * DAY, clock);
  clock.advance(1);
  t.is(firedAt, null, 'not at once (the overflow Node gives a raw setTimeout)');
  clock.advance(25 * DAY);
  t.is(firedAt, null, 'not after the 24.8-day step');
  clock.advance(5 * DAY - 2);
  t.is(firedAt, null, 'not a millisecond before its end');
  t.true(timer.active);
  clock.advance(1);
  t.is(firedAt, start + 30 * DAY);
  t.false(timer.active);
  t.is(clock.active, 0, 'nothing left armed');
  t.true(
    clock.delays.every((d) => d <= 2 ** 31 - 1),
    'every step within setTimeout’s limit',
  );
});

test('a raw setTimeout of 30 days fires at once on the same clock (what the timer avoids)', (t) => {
  const clock = new FakeTimers();
  let fired = false;
  clock.setTimeout(() => (fired = true), 30 * DAY);
  clock.advance(1);
  t.true(fired);
});

test('clearing stops it between steps, and leaves no timer armed', (t) => {
  const clock = new FakeTimers();
  let fired = false;
  const timer = setLongTimeout(() => (fired = true), 100 * DAY, clock);
  clock.advance(50 * DAY);
  t.is(clock.active, 1);
  clearLongTimeout(timer);
  t.is(clock.active, 0);
  clock.advance(100 * DAY);
  t.false(fired);
  clearLongTimeout(null);
});

test('small steps re-arm until the deadline; a deadline in the past fires on the next tick', (t) => {
  const clock = new FakeTimers();
  const fired: number[] = [];
  setLongTimeoutAt(() => fired.push(clock.now()), clock.now() + 1000, clock, 300);
  clock.advance(999);
  t.deepEqual(fired, []);
  clock.advance(1);
  t.deepEqual(fired, [clock.now()]);
  setLongTimeoutAt(() => fired.push(-1), clock.now() - 5000, clock);
  t.is(fired.length, 1, 'not synchronously');
  clock.advance(1);
  t.is(fired[1], -1);
});

test('an infinite or negative delay never fires early and never overflows', (t) => {
  const clock = new FakeTimers();
  let fired = 0;
  const inf = setLongTimeout(() => fired++, Infinity, clock);
  clock.advance(1000 * DAY);
  t.is(fired, 0);
  inf.clear();
  setLongTimeout(() => fired++, -10, clock);
  clock.advance(1);
  t.is(fired, 1);
});

test('with real timers, a short timer fires and a long one is cleared without a warning', async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  const long = setLongTimeout(() => t.fail('fired early'), 30 * DAY);
  await new Promise<void>((resolve) => setLongTimeout(resolve, 20));
  long.clear();
  await new Promise((r) => setImmediate(r));
  process.off('warning', onWarning);
  t.false(warnings.includes('TimeoutOverflowWarning'));
});
