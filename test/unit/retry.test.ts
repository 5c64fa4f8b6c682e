import test from 'ava';
import type { RetryPolicy } from '../../src/domain/session-request.js';
import { nextRetry } from '../../src/workers/manager/retry.js';

const policy = (p: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxAttempts: 3,
  backoff: 'exponential',
  delaySeconds: 2,
  on: ['agent-lost', 'non-zero-exit'],
  ...p,
});
const noJitter = () => 0;
const fullJitter = () => 1;

test('no policy, or a cause the policy does not name: no retry', (t) => {
  t.is(nextRetry(null, 1, 'agent-lost'), null);
  t.is(nextRetry(policy(), 1, 'image-pull-failed'), null);
});

test('attempts stop at max_attempts', (t) => {
  t.truthy(nextRetry(policy(), 2, 'agent-lost'));
  t.is(nextRetry(policy(), 3, 'agent-lost'), null);
  t.is(nextRetry(policy({ maxAttempts: 1 }), 1, 'agent-lost'), null);
});

test('exponential backoff doubles per attempt; fixed does not', (t) => {
  const at = (p: RetryPolicy, attempt: number, r = noJitter) =>
    (nextRetry(p, attempt, 'non-zero-exit', r)!.getTime() - Date.now()) / 1000;
  t.true(Math.abs(at(policy(), 1) - 2) < 0.05);
  t.true(Math.abs(at(policy(), 2) - 4) < 0.05);
  t.true(Math.abs(at(policy({ backoff: 'fixed' }), 2) - 2) < 0.05);
});

test('jitter adds at most 20 %', (t) => {
  const d = (nextRetry(policy(), 1, 'agent-lost', fullJitter)!.getTime() - Date.now()) / 1000;
  t.true(d > 2.3 && d <= 2.41, `${d}`);
});
