import test from 'ava';
import { QUIET_RECHECK_MS, QuietGate } from '../../src/workers/manager/quiet-gate.js';

/** A gate on a clock the test moves, counting how often the gate read it. */
function gate<P = void>(opts: { recheckMs?: number; counted?: () => number } = {}) {
  const clock = { t: 1_000, reads: 0 };
  const g = new QuietGate<P>({
    ...opts,
    now: () => {
      clock.reads++;
      return clock.t;
    },
  });
  return { g, clock };
}

test('a pass that found nothing lets ticks skip until the recheck time', (t) => {
  const { g, clock } = gate();
  t.is(g.resting(), null, 'no pass yet');
  const began = g.begin();
  clock.t += 300; // the pass takes time: the recheck counts from its beginning
  g.rest(began);
  t.truthy(g.resting());
  clock.t = began.at + QUIET_RECHECK_MS - 1;
  t.truthy(g.resting());
  clock.t = began.at + QUIET_RECHECK_MS;
  t.is(g.resting(), null, 'the recheck is due');
});

test('a wake-up after the pass, or during it, makes the next tick pass', (t) => {
  const { g } = gate();
  g.rest(g.begin());
  g.wake();
  t.is(g.resting(), null, 'woken after');
  const began = g.begin();
  g.wake(); // while the pass runs
  g.rest(began);
  t.is(g.resting(), null, 'woken during: that pass records nothing');
  g.rest(g.begin());
  t.truthy(g.resting(), 'the next pass that finds nothing is quiet again');
});

test('forget drops what the last pass found', (t) => {
  const { g } = gate();
  g.rest(g.begin());
  g.forget();
  t.is(g.resting(), null);
});

test('a pass that fails keeps what the one before found, unless forgotten', (t) => {
  const { g } = gate();
  g.rest(g.begin());
  g.wake();
  t.is(g.resting(), null);
  g.begin(); // the pass the wake-up asked for; it never rests (it threw)
  t.truthy(g.resting(), 'the wake-up was its own: the earlier quiet stands');
  g.begin();
  g.forget(); // a loop whose failed pass must not leave the earlier finding
  t.is(g.resting(), null);
});

test('the payload is what the quiet pass saw', (t) => {
  const { g } = gate<{ beats: string }>();
  g.rest(g.begin(), { beats: 'b1' });
  t.deepEqual(g.resting()?.payload, { beats: 'b1' });
});

test('wake-ups counted elsewhere count as the gate’s own', (t) => {
  let inserts = 0;
  const { g } = gate({ counted: () => inserts });
  g.rest(g.begin());
  t.truthy(g.resting());
  inserts++;
  t.is(g.resting(), null);
  const began = g.begin();
  inserts++;
  g.rest(began);
  t.is(g.resting(), null, 'counted during the pass');
});

test('the clock is read only when it decides, and recheckMs is the gate’s', (t) => {
  const { g, clock } = gate({ recheckMs: 50 });
  g.resting();
  t.is(clock.reads, 0, 'nothing recorded: no read');
  g.rest(g.begin());
  g.wake();
  const before = clock.reads;
  g.resting();
  t.is(clock.reads, before, 'woken: no read');
  g.rest(g.begin());
  clock.t += 50;
  t.is(g.resting(), null);
});
