import test from 'ava';
import {
  PERMIT_LEAD_MS,
  PERMIT_TTL_MS,
  SPIN_MS,
  due,
  nextStep,
  permitDelay,
  permitValid,
} from '../../src/domain/release-timing.js';

const AT = 1_000_000;

test('a permit holds from when it was asked for PERMIT_TTL_MS, never before it was asked', (t) => {
  t.false(permitValid(null, AT));
  t.true(permitValid(AT - 1_000, AT));
  t.true(permitValid(AT - PERMIT_TTL_MS, AT));
  t.false(permitValid(AT - PERMIT_TTL_MS - 1, AT), 'stale: the agent may have been cut off since');
  t.false(permitValid(AT + 1, AT), 'asked after now: a clock that went back');
});

test('due: at or after the instant, with a fresh permit; never a millisecond early', (t) => {
  const r = { at: AT, permittedAt: AT - PERMIT_LEAD_MS };
  t.false(due(r, AT - 1));
  t.true(due(r, AT));
  t.true(due(r, AT + 5));
  t.false(due({ at: AT, permittedAt: null }, AT + 5), 'no permit, no release');
  t.false(due(r, AT - PERMIT_LEAD_MS + PERMIT_TTL_MS + 1), 'the permit went stale before the clock fired');
});

test('nextStep: wait until SPIN_MS before the soonest permitted instant, then spin, then fire', (t) => {
  const armed = [
    { at: AT + 500, permittedAt: AT - 400 },
    { at: AT, permittedAt: AT - 900 },
  ];
  t.deepEqual(nextStep(armed, AT - 300), { kind: 'wait', ms: 300 - SPIN_MS });
  t.deepEqual(nextStep(armed, AT - SPIN_MS), { kind: 'spin' });
  t.deepEqual(nextStep(armed, AT - SPIN_MS / 2), { kind: 'spin' });
  t.deepEqual(nextStep(armed, AT), { kind: 'fire' });
});

test('nextStep: a release without a permit, or one stale by its instant, waits for a message', (t) => {
  t.deepEqual(nextStep([], AT), { kind: 'wait', ms: null });
  t.deepEqual(nextStep([{ at: AT, permittedAt: null }], AT + 10), { kind: 'wait', ms: null });
  const stale = { at: AT, permittedAt: AT - PERMIT_TTL_MS - 1 };
  t.deepEqual(nextStep([stale], AT - 100), { kind: 'wait', ms: null });
  // One without a permit does not hide a permitted one.
  t.deepEqual(
    nextStep(
      [
        { at: AT - 50, permittedAt: null },
        { at: AT, permittedAt: AT - 10 },
      ],
      AT - 20,
    ),
    {
      kind: 'wait',
      ms: 20 - SPIN_MS,
    },
  );
});

test('nextStep: a permitted release whose instant passed (an agent back after it) fires at once', (t) => {
  t.deepEqual(nextStep([{ at: AT - 60_000, permittedAt: AT - 5 }], AT), { kind: 'fire' });
});

test('permitDelay: asked PERMIT_LEAD_MS ahead, at once when that has passed', (t) => {
  t.is(permitDelay(AT, AT - 10_000), 10_000 - PERMIT_LEAD_MS);
  t.is(permitDelay(AT, AT - PERMIT_LEAD_MS + 1), 0);
  t.is(permitDelay(AT, AT + 1_000), 0);
});
