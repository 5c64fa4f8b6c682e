import test from 'ava';
import { InvalidRequest } from '../../src/domain/errors.js';
import { parseCreateSessionBody } from '../../src/domain/session-request.js';
import {
  parseStartDeadline,
  startDeadlineAt,
  startDeadlinePassed,
  type DeadlineFacts,
} from '../../src/domain/start-deadline.js';

const NOW = new Date('2026-11-29T06:00:00.000Z');

test('startDeadline: seconds, numeric text or N(s|m|h|d|w); a fraction rounds up', (t) => {
  t.is(parseStartDeadline(undefined), null);
  t.is(parseStartDeadline(90), 90);
  t.is(parseStartDeadline('90'), 90);
  t.is(parseStartDeadline('10m'), 600);
  t.is(parseStartDeadline('2h'), 7200);
  t.is(parseStartDeadline(1.2), 2);
  for (const bad of [0, -5, 'soon', '10 minutes later', '400d', {}])
    t.throws(
      () => parseStartDeadline(bad),
      { instanceOf: InvalidRequest, message: /start_deadline/ },
      String(bad),
    );
});

test('both spellings reach the request, for batch and interactive sessions', (t) => {
  const a = parseCreateSessionBody({ image: 'python', startDeadline: '5m' }, NOW);
  const b = parseCreateSessionBody(
    { image: 'python', type: 'batch', startup_command: 'true', start_deadline: 300 },
    NOW,
  );
  t.is(a.startDeadlineSeconds, 300);
  t.is(b.startDeadlineSeconds, 300);
  t.is(parseCreateSessionBody({ image: 'python' }, NOW).startDeadlineSeconds, null);
});

const facts = (f: Partial<DeadlineFacts> = {}): DeadlineFacts => ({
  status: 'PENDING',
  attempt: 1,
  startsAt: null,
  createdAt: new Date(NOW.getTime() - 60_000),
  startDeadlineSeconds: 30,
  ...f,
});

test('the deadline counts from starts_at, or from creation when there is none', (t) => {
  t.deepEqual(startDeadlineAt(facts()), new Date(NOW.getTime() - 30_000));
  const startsAt = new Date(NOW.getTime() + 3_600_000);
  t.deepEqual(startDeadlineAt(facts({ startsAt })), new Date(startsAt.getTime() + 30_000));
  t.is(startDeadlineAt(facts({ startDeadlineSeconds: null })), null);
});

test('only a PENDING first attempt past its deadline is cancelled', (t) => {
  t.true(startDeadlinePassed(facts(), NOW));
  t.true(startDeadlinePassed(facts({ startDeadlineSeconds: 60 }), NOW), 'at the deadline');
  t.false(startDeadlinePassed(facts({ startDeadlineSeconds: 61 }), NOW), 'before it');
  t.false(startDeadlinePassed(facts({ startDeadlineSeconds: null }), NOW), 'no deadline');
  t.false(startDeadlinePassed(facts({ status: 'SCHEDULED' }), NOW), 'placed: starting');
  t.false(startDeadlinePassed(facts({ status: 'PREPARING' }), NOW), 'placed: starting');
  t.false(startDeadlinePassed(facts({ attempt: 2 }), NOW), 'a retry of a session that was placed');
  t.false(startDeadlinePassed(facts({ startsAt: NOW }), NOW), 'counted from starts_at');
});
