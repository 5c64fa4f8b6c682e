import test from 'ava';
import { InvalidRequest } from '../../src/domain/errors.js';
import type { RetryPolicy } from '../../src/domain/session-request.js';
import { parseCreateSessionBody } from '../../src/domain/session-request.js';
import { nextRetry } from '../../src/workers/manager/retry.js';

const now = new Date('2026-09-01T00:00:00Z');
const retryOf = (retry: unknown) => parseCreateSessionBody({ image: 'python', retry }, now).retry!;
const policy = (p: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxAttempts: 5,
  backoff: 'exponential',
  delaySeconds: 2,
  on: ['agent-lost', 'non-zero-exit'],
  ...p,
});
const secondsUntil = (d: Date | null) => (d!.getTime() - Date.now()) / 1000;

test('on_exit_codes (both spellings) implies non-zero-exit, sorted without repeats', (t) => {
  const r = retryOf({ max_attempts: 3, on_exit_codes: [143, 137, 137] });
  t.deepEqual(r.onExitCodes, [137, 143]);
  t.deepEqual(r.on, ['agent-lost', 'image-pull-failed', 'non-zero-exit']);
  t.deepEqual(retryOf({ onExitCodes: ['137'], on: ['agent-lost'] }).on, ['agent-lost', 'non-zero-exit']);
  t.deepEqual(retryOf({ onExitCodes: [1], on: ['non-zero-exit'] }).on, ['non-zero-exit']);
});

test('max_delay (both spellings, with units) is kept in seconds', (t) => {
  t.is(retryOf({ max_delay: '5m' }).maxDelaySeconds, 300);
  t.is(retryOf({ maxDelay: 30, delay: 30 }).maxDelaySeconds, 30);
  t.false('maxDelaySeconds' in retryOf({ max_attempts: 2 }));
  t.false('onExitCodes' in retryOf({ max_attempts: 2 }));
});

test('bad exit codes and delays are 400s naming the field', (t) => {
  const cases: [unknown, RegExp][] = [
    [{ on_exit_codes: [0] }, /on_exit_codes.*0.*1 to 255/],
    [{ on_exit_codes: [256] }, /on_exit_codes/],
    [{ on_exit_codes: [-1] }, /on_exit_codes/],
    [{ on_exit_codes: [1.5] }, /on_exit_codes/],
    [{ on_exit_codes: ['x'] }, /on_exit_codes/],
    [{ on_exit_codes: [] }, /on_exit_codes.*non-empty/],
    [{ on_exit_codes: 137 }, /on_exit_codes/],
    [{ on_exit_codes: Array.from({ length: 65 }, (_, i) => i + 1) }, /more than 64/],
    [{ max_delay: 0 }, /max_delay/],
    [{ max_delay: 'soon' }, /max_delay/],
    [{ max_delay: 5, delay: 10 }, /max_delay.*shorter than retry.delay/],
  ];
  for (const [retry, re] of cases) {
    const e = t.throws(() => retryOf(retry), { instanceOf: InvalidRequest }, JSON.stringify(retry));
    t.regex(e!.message, re);
  }
});

test('onExitCodes: only the listed non-zero exits are retried', (t) => {
  const p = policy({ onExitCodes: [137, 143] });
  t.truthy(nextRetry(p, 1, { exitCode: 137 }));
  t.truthy(nextRetry(p, 1, { exitCode: 143 }));
  t.is(nextRetry(p, 1, { exitCode: 1 }), null, 'exit 1 is not in the list');
  t.is(nextRetry(p, 1, 'non-zero-exit'), null, 'an exit of unknown code is not in the list');
  t.truthy(nextRetry(p, 1, 'agent-lost'), 'other causes are unaffected');
  t.is(nextRetry(p, 5, { exitCode: 137 }), null, 'attempts still stop at maxAttempts');
});

test('without onExitCodes every non-zero exit is retried when non-zero-exit is named', (t) => {
  t.truthy(nextRetry(policy(), 1, { exitCode: 1 }));
  t.truthy(nextRetry(policy(), 1, { exitCode: 255 }));
  t.is(nextRetry(policy({ on: ['agent-lost'] }), 1, { exitCode: 1 }), null);
});

test('maxDelay caps the backoff, jitter included', (t) => {
  const full = () => 1;
  const p = policy({ delaySeconds: 2, maxDelaySeconds: 5 });
  t.true(
    Math.abs(secondsUntil(nextRetry(p, 1, 'agent-lost', full)) - 2.4) < 0.05,
    'under the cap: 2 s + 20 %',
  );
  // attempt 2: 4 s + 0.8 s jitter = 4.8 s, under 5; attempt 3: 8 s, capped.
  t.true(Math.abs(secondsUntil(nextRetry(p, 2, 'agent-lost', full)) - 4.8) < 0.05);
  for (const attempt of [3, 4]) {
    const d = secondsUntil(nextRetry(p, attempt, { exitCode: 9 }, full));
    t.true(d <= 5 && d > 4.9, `attempt ${attempt}: ${d}`);
  }
  const capped = policy({ delaySeconds: 5, maxDelaySeconds: 5, backoff: 'fixed' });
  t.true(secondsUntil(nextRetry(capped, 1, 'agent-lost', full)) <= 5, 'the jitter does not pass the cap');
});
