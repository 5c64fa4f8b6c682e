import test from 'ava';
import { WAIT_REASONS } from '../../src/domain/predicates.js';
import { backoffWait } from '../../src/persistence/session-attempts.js';

const retry = (at: Date) => ({ reason: 'non-zero-exit', exitCode: 1, at, data: { exitCode: 1 } });

test('a backoff not over waits out of the queue, with its predicate beside the move’s data', (t) => {
  const now = Date.parse('2026-12-03T12:00:00.000Z');
  const at = new Date(now + 5_000);
  t.deepEqual(backoffWait(retry(at), now), {
    dueLater: true,
    data: {
      exitCode: 1,
      predicates: [{ name: WAIT_REASONS.retryBackoff.name, msg: 'retrying at 2026-12-03T12:00:05.000Z' }],
    },
  });
});

test('a backoff already over joins the queue at once, its data as given', (t) => {
  const now = Date.parse('2026-12-03T12:00:00.000Z');
  for (const at of [new Date(now), new Date(now - 1)])
    t.deepEqual(backoffWait(retry(at), now), { dueLater: false, data: { exitCode: 1 } });
});
