import test from 'ava';
import { canTransition, isTerminal, predecessorsOf, SESSION_STATUSES } from '../../src/domain/status.js';

test('the happy path moves forward, and may skip steps', (t) => {
  t.true(canTransition('PENDING', 'SCHEDULED'));
  t.true(canTransition('SCHEDULED', 'PULLING'));
  t.true(canTransition('PREPARING', 'RUNNING'));
  t.true(canTransition('RUNNING', 'TERMINATED'));
});

test('no status goes backwards on the happy path', (t) => {
  t.false(canTransition('RUNNING', 'CREATING'));
  t.false(canTransition('PULLING', 'PREPARING'));
  t.false(canTransition('TERMINATING', 'RUNNING'));
});

test('final statuses go nowhere', (t) => {
  for (const to of SESSION_STATUSES) {
    t.false(canTransition('TERMINATED', to));
    t.false(canTransition('CANCELLED', to));
  }
  t.true(isTerminal('TERMINATED'));
  t.true(isTerminal('CANCELLED'));
  t.false(isTerminal('ERROR'));
});

test('a running session cannot be cancelled, only terminated', (t) => {
  t.false(canTransition('RUNNING', 'CANCELLED'));
  t.true(canTransition('RUNNING', 'TERMINATING'));
});

test('predecessorsOf is the WHERE clause of the guarded update', (t) => {
  t.deepEqual(predecessorsOf('SCHEDULED'), ['PENDING']);
  t.false(predecessorsOf('RUNNING').includes('TERMINATED'));
  t.true(predecessorsOf('TERMINATED').includes('RUNNING'));
  t.true(predecessorsOf('TERMINATED').includes('TERMINATING'));
  t.true(predecessorsOf('TERMINATED').includes('ERROR'));
});
