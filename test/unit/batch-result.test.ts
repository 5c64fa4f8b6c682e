import test from 'ava';
import { endedByTimeout } from '../../src/domain/batch-result.js';

const at = (startedAt: number, finishedAt: number, exitCode: number) => ({ startedAt, finishedAt, exitCode });

test('endedByTimeout: killed at or past its deadline is a timeout', (t) => {
  t.true(endedByTimeout(10, at(0, 10_000, 137)));
  t.true(endedByTimeout(10, at(0, 25_000, 143)));
});

test('endedByTimeout: an exit before the deadline, or a success, is the container’s own', (t) => {
  t.false(endedByTimeout(10, at(0, 9_000, 137)), 'ended on its own while the engine was away');
  t.false(endedByTimeout(10, at(0, 12_000, 0)), 'succeeded: its exit code is the truth');
  t.false(endedByTimeout(null, at(0, 99_000, 137)), 'no batch timeout');
  t.false(endedByTimeout(10, { startedAt: null, finishedAt: null, exitCode: 1 }));
});
