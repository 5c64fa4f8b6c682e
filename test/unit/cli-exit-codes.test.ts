import test from 'ava';
import { EXIT } from '../../src/cli/base-command.js';
import { exitCodeOf } from '../../src/cli/session-wait.js';
import { relativeTime } from '../../src/cli/output.js';

// What a waiting command (`run`, `watch`, `events --wait`) hands the shell, for each way a job ends.

test('success is 0; a failed job passes its own code', (t) => {
  t.is(exitCodeOf({ status: 'TERMINATED', result: 'SUCCESS', exitCode: 0 }), EXIT.ok);
  t.is(exitCodeOf({ status: 'TERMINATED', result: 'FAILURE', exitCode: 3, statusInfo: 'task-failed' }), 3);
  t.is(exitCodeOf({ status: 'TERMINATED', result: 'FAILURE', exitCode: 127 }), 127);
  t.is(exitCodeOf({ status: 'TERMINATED', result: 'FAILURE', exitCode: 137 }), 137); // OOM-killed
});

test('the batch timeout is the timeout code 3', (t) => {
  t.is(
    exitCodeOf({ status: 'TERMINATED', result: 'FAILURE', exitCode: -2, statusInfo: 'task-timeout' }),
    EXIT.timeout,
  );
});

test('a job that never ran, or a code a shell cannot carry, is 1', (t) => {
  t.is(
    exitCodeOf({ status: 'CANCELLED', result: 'FAILURE', exitCode: null, statusInfo: 'image-pull-failed' }),
    1,
  );
  t.is(
    exitCodeOf({ status: 'CANCELLED', result: 'UNDEFINED', exitCode: null, statusInfo: 'user-requested' }),
    1,
  );
  t.is(exitCodeOf({ status: 'TERMINATED', result: 'FAILURE', exitCode: 256 }), 1);
  t.is(exitCodeOf({ status: 'TERMINATED', result: 'FAILURE', exitCode: -1, statusInfo: 'agent-lost' }), 1);
  t.is(exitCodeOf({ status: 'TERMINATED', result: 'FAILURE', exitCode: 0 }), 1); // failed after a clean exit
});

test('an interactive session that ended without a result is 0', (t) => {
  t.is(
    exitCodeOf({ status: 'TERMINATED', result: 'UNDEFINED', exitCode: null, statusInfo: 'user-requested' }),
    0,
  );
});

test('relative times read both ways', (t) => {
  const now = Date.parse('2026-11-27T12:00:00Z');
  t.is(relativeTime('2026-11-27T11:59:55Z', now), '5 s ago');
  t.is(relativeTime('2026-11-27T12:30:00Z', now), 'in 30 min');
  t.is(relativeTime('2026-11-25T12:00:00Z', now), '2 d ago');
  t.is(relativeTime(null, now), '-');
});
