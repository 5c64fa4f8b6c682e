import test from 'ava';
import { chainFromAny, kernelChains, sessionChain, type PhaseStep } from '../../src/domain/phase-chain.js';

const step = (status: PhaseStep['status'], at: number, data: Record<string, unknown> = {}): PhaseStep => ({
  status,
  at,
  data,
});

test('a start report from SCHEDULED moves through every phase in order', (t) => {
  const steps = [
    step('PREPARING', 1),
    step('PREPARED', 2),
    step('CREATING', 3),
    step('RUNNING', 4, { x: 1 }),
  ];
  const c = sessionChain('SCHEDULED', steps);
  t.deepEqual(
    c.moved.map((m) => m.status),
    ['PREPARING', 'PREPARED', 'CREATING', 'RUNNING'],
  );
  t.deepEqual(c.data, { x: 1 });
  t.true(c.writes);
});

test('phases the session is already past are skipped; a repeat moves nothing', (t) => {
  const steps = [step('PREPARING', 1), step('PREPARED', 2), step('CREATING', 3), step('RUNNING', 4)];
  t.deepEqual(
    sessionChain('PREPARED', steps).moved.map((m) => m.status),
    ['CREATING', 'RUNNING'],
  );
  const again = sessionChain('RUNNING', steps);
  t.deepEqual(again.moved, []);
  t.false(again.writes);
  // A session that ended meanwhile moves no more.
  t.false(sessionChain('TERMINATED', steps).writes);
  t.false(sessionChain('CANCELLED', steps).writes);
});

test('PULLING progress while PULLING merges its figures only, in order with the moves', (t) => {
  const c = sessionChain('PULLING', [
    step('PULLING', 1, { pulled: 10, n: 1 }),
    step('PULLING', 2, { pulled: 20 }),
  ]);
  t.deepEqual(c.moved, []);
  t.deepEqual(c.data, { pulled: 20, n: 1 });
  t.true(c.writes);
  const moved = sessionChain('PREPARING', [
    step('PULLING', 1, { pulled: 5 }),
    step('PULLING', 2, { pulled: 9 }),
  ]);
  t.deepEqual(
    moved.moved.map((m) => m.status),
    ['PULLING'],
  );
  t.deepEqual(moved.data, { pulled: 9 });
  // Empty progress while PULLING writes nothing.
  t.false(sessionChain('PULLING', [step('PULLING', 1)]).writes);
});

test('kernels follow the moves their own status allows', (t) => {
  const moved = [step('PREPARING', 1), step('PREPARED', 2), step('CREATING', 3), step('RUNNING', 4)];
  const chains = kernelChains(moved);
  t.deepEqual(
    chains.get('SCHEDULED')!.map((m) => m.status),
    ['PREPARING', 'PREPARED', 'CREATING', 'RUNNING'],
  );
  t.deepEqual(
    chains.get('PREPARED')!.map((m) => m.status),
    ['CREATING', 'RUNNING'],
  );
  t.false(chains.has('RUNNING'));
  t.false(chains.has('TERMINATED'));
});

test('chainFromAny: phases in order move alike from every preparation status before the first', (t) => {
  const steps = [step('PREPARED', 1), step('CREATING', 2), step('RUNNING', 3, { x: 1 })];
  const any = chainFromAny(steps)!;
  t.deepEqual(any.from, ['SCHEDULED', 'PREPARING', 'PULLING']);
  t.deepEqual(
    any.chain.moved.map((m) => m.status),
    ['PREPARED', 'CREATING', 'RUNNING'],
  );
  t.deepEqual(any.chain.data, { x: 1 });
  for (const from of any.from) t.deepEqual(sessionChain(from, steps), any.chain);
  t.deepEqual(chainFromAny([step('RUNNING', 1)])!.from, [
    'SCHEDULED',
    'PREPARING',
    'PULLING',
    'PREPARED',
    'CREATING',
  ]);
});

test('chainFromAny: phases out of order, repeated or none are left to the locked row', (t) => {
  t.is(chainFromAny([]), null);
  t.is(chainFromAny([step('PREPARED', 1), step('PREPARING', 2)]), null);
  t.is(chainFromAny([step('PULLING', 1), step('PULLING', 2, { pulled: 2 })]), null);
});
