import test from 'ava';
import {
  arrayOutcome,
  checkArrayPendingLimit,
  checkChildNames,
  formatArraySpec,
  MAX_ARRAY_SIZE,
  parentMove,
  parseArraySpec,
} from '../../src/domain/array-spec.js';
import { InvalidRequest, QuotaExceeded } from '../../src/domain/errors.js';

test('ranges: A-B and A-B%P, indices from A', (t) => {
  t.deepEqual(parseArraySpec('0-99%10'), { start: 0, size: 100, parallelism: 10 });
  t.deepEqual(parseArraySpec('0-19'), { start: 0, size: 20, parallelism: null });
  t.deepEqual(parseArraySpec(' 5-5 '), { start: 5, size: 1, parallelism: null });
  t.deepEqual(parseArraySpec('10-12%1'), { start: 10, size: 3, parallelism: 1 });
  t.is(parseArraySpec(undefined), null);
  t.is(parseArraySpec(null), null);
});

test('the object form: size, parallelism, start', (t) => {
  t.deepEqual(parseArraySpec({ size: 100, parallelism: 10 }), { start: 0, size: 100, parallelism: 10 });
  t.deepEqual(parseArraySpec({ size: '3' }), { start: 0, size: 3, parallelism: null });
  t.deepEqual(parseArraySpec({ size: 3, start: 7 }), { start: 7, size: 3, parallelism: null });
});

test('limits: up to 10,000 children; bad input is a 400 saying why', (t) => {
  t.is(parseArraySpec(`0-${MAX_ARRAY_SIZE - 1}`)?.size, 10_000);
  t.is(parseArraySpec({ size: MAX_ARRAY_SIZE })?.size, 10_000);
  const bad: unknown[] = [
    `0-${MAX_ARRAY_SIZE}`,
    { size: MAX_ARRAY_SIZE + 1 },
    '5-3',
    '0-9%0',
    '-1-5',
    '1-',
    '0-9%',
    'a-b',
    '0..9',
    '',
    { size: 0 },
    { size: 1.5 },
    { size: 'x' },
    { parallelism: 2 },
    { size: 2, extra: 1 },
    42,
    ['0-9'],
    '999990-1000000',
  ];
  for (const v of bad) {
    const err = t.throws(() => parseArraySpec(v), { instanceOf: InvalidRequest }, JSON.stringify(v));
    t.regex(err?.message ?? '', /array/);
  }
});

test('format writes the grammar back', (t) => {
  t.is(formatArraySpec({ start: 0, size: 100, parallelism: 10 }), '0-99%10');
  t.is(formatArraySpec({ start: 3, size: 2, parallelism: null }), '3-4');
});

test("children's names must fit the session-name limit", (t) => {
  t.notThrows(() => checkChildNames('a'.repeat(59), { start: 0, size: 10000, parallelism: null }));
  t.throws(() => checkChildNames('a'.repeat(60), { start: 0, size: 10000, parallelism: null }), {
    instanceOf: InvalidRequest,
  });
});

test('the pending limit counts every child and the parent', (t) => {
  const spec = { start: 0, size: 10, parallelism: null };
  t.notThrows(() => checkArrayPendingLimit(11, 0, spec));
  t.throws(() => checkArrayPendingLimit(11, 1, spec), { instanceOf: QuotaExceeded });
  t.notThrows(() => checkArrayPendingLimit(null, 1e9, spec));
});

test("the parent's result: SUCCESS when every child succeeded, else the lowest-index failed child's exit code", (t) => {
  t.deepEqual(arrayOutcome(null), { result: 'SUCCESS', exitCode: 0 });
  t.deepEqual(arrayOutcome({ index: 7, exitCode: 4 }), { result: 'FAILURE', exitCode: 4 });
  t.deepEqual(arrayOutcome({ index: 2, exitCode: null }), { result: 'FAILURE', exitCode: null });
});

test('the parent follows its children', (t) => {
  const open = { open: 3, ran: false, firstFailed: null };
  t.is(parentMove('PENDING', open), null);
  t.deepEqual(parentMove('PENDING', { ...open, ran: true }), { to: 'RUNNING' });
  t.is(parentMove('RUNNING', { ...open, ran: true }), null);
  t.is(parentMove('TERMINATING', { ...open, ran: true }), null);
  const done = { open: 0, ran: true, firstFailed: { index: 7, exitCode: 4 } };
  for (const s of ['PENDING', 'RUNNING', 'TERMINATING'] as const)
    t.deepEqual(parentMove(s, done), { to: 'TERMINATED', result: 'FAILURE', exitCode: 4 });
  t.deepEqual(parentMove('RUNNING', { open: 0, ran: true, firstFailed: null }), {
    to: 'TERMINATED',
    result: 'SUCCESS',
    exitCode: 0,
  });
  for (const s of ['TERMINATED', 'CANCELLED'] as const) t.is(parentMove(s, done), null);
});
