import test from 'ava';
import {
  capacityPredicate,
  dependencyFailure,
  dependencyState,
  predicate,
  samePredicates,
  templateParts,
  whyWaits,
  WAIT_REASONS,
  type Dependency,
  type WaitFacts,
  type WaitReason,
} from '../../src/domain/predicates.js';
import { ACTIVE_STATUSES } from '../../src/domain/status.js';

const NOW = new Date('2026-11-29T03:00:00.000Z');
const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

const facts = (f: Partial<WaitFacts> = {}): WaitFacts => ({
  now: NOW,
  startLeadMs: 30_000,
  startsAt: null,
  retryAfter: null,
  dependencies: [],
  keypair: null,
  ...f,
});
const dep = (
  id: string,
  status: Dependency['status'],
  result: Dependency['result'] = 'UNDEFINED',
): Dependency => ({
  id,
  status,
  result,
});

test('a session with nothing to wait for is placed (then only capacity can hold it)', (t) => {
  t.deepEqual(whyWaits(facts()), { kind: 'place' });
  t.deepEqual(whyWaits(facts({ keypair: { ahead: 0, active: 1, limit: 2 } })), { kind: 'place' });
});

test('starts_at beyond the lead window: waits until that time, written as toISOString', (t) => {
  const startsAt = new Date(NOW.getTime() + 60_000);
  t.deepEqual(whyWaits(facts({ startsAt })), {
    kind: 'wait',
    predicates: [{ name: 'starts_at', msg: `waits until ${startsAt.toISOString()}` }],
  });
});

test('starts_at inside the lead window is placed early (the agent prepares meanwhile)', (t) => {
  t.deepEqual(whyWaits(facts({ startsAt: new Date(NOW.getTime() + 10_000) })), { kind: 'place' });
  t.deepEqual(whyWaits(facts({ startsAt: new Date(NOW.getTime() - 10_000) })), { kind: 'place' });
});

test('a retry backoff not yet over: retry_backoff with the time of the next attempt', (t) => {
  const retryAfter = new Date(NOW.getTime() + 4_000);
  t.deepEqual(whyWaits(facts({ retryAfter })), {
    kind: 'wait',
    predicates: [{ name: 'retry_backoff', msg: `retrying at ${retryAfter.toISOString()}` }],
  });
  t.deepEqual(whyWaits(facts({ retryAfter: new Date(NOW.getTime() - 1) })), { kind: 'place' });
});

test('dependencies not ended: waits for their ids, sorted, whatever order they come in', (t) => {
  const v = whyWaits(facts({ dependencies: [dep(B, 'RUNNING'), dep(A, 'PENDING')] }));
  t.deepEqual(v, { kind: 'wait', predicates: [{ name: 'dependencies', msg: `waits for ${A}, ${B}` }] });
});

test('dependencies that ended TERMINATED/SUCCESS are met', (t) => {
  t.deepEqual(whyWaits(facts({ dependencies: [dep(A, 'TERMINATED', 'SUCCESS')] })), { kind: 'place' });
  const v = whyWaits(facts({ dependencies: [dep(A, 'TERMINATED', 'SUCCESS'), dep(B, 'RUNNING')] }));
  t.deepEqual(v, { kind: 'wait', predicates: [{ name: 'dependencies', msg: `waits for ${B}` }] });
});

test('a dependency that ended badly cancels the session: dependency-failed, naming it', (t) => {
  for (const [status, result] of [
    ['TERMINATED', 'FAILURE'],
    ['TERMINATED', 'UNDEFINED'],
    ['CANCELLED', 'FAILURE'],
    ['ERROR', 'UNDEFINED'],
  ] as const) {
    t.deepEqual(whyWaits(facts({ dependencies: [dep(B, 'RUNNING'), dep(A, status, result)] })), {
      kind: 'cancel',
      info: 'dependency-failed',
      data: { dependency: { sessionId: A, status, result, condition: 'afterok' } },
    });
  }
});

test('a broken dependency cancels even a session that waits for its start time', (t) => {
  const v = whyWaits(
    facts({ startsAt: new Date(NOW.getTime() + 3_600_000), dependencies: [dep(A, 'CANCELLED', 'FAILURE')] }),
  );
  t.is(v.kind, 'cancel');
});

test('the order of reasons: starts_at, then backoff, then dependencies, then the keypair limit', (t) => {
  const later = new Date(NOW.getTime() + 3_600_000);
  const all = facts({
    startsAt: later,
    retryAfter: later,
    dependencies: [dep(A, 'RUNNING')],
    keypair: { ahead: 5, active: 5, limit: 1 },
  });
  const names = (f: WaitFacts) => {
    const v = whyWaits(f);
    return v.kind === 'wait' ? v.predicates.map((p) => p.name) : v.kind;
  };
  t.deepEqual(names(all), ['starts_at']);
  t.deepEqual(names({ ...all, startsAt: null }), ['retry_backoff']);
  t.deepEqual(names({ ...all, startsAt: null, retryAfter: null }), ['dependencies']);
  t.deepEqual(names({ ...all, startsAt: null, retryAfter: null, dependencies: [] }), ['keypair_concurrency']);
});

test('keypair at its concurrency limit: counts running sessions and those ahead in the queue', (t) => {
  const limited = (ahead: number, active: number) =>
    whyWaits(facts({ keypair: { ahead, active, limit: 3 } }));
  t.deepEqual(limited(0, 3), {
    kind: 'wait',
    predicates: [{ name: 'keypair_concurrency', msg: 'keypair runs its limit of 3 sessions' }],
  });
  t.is(limited(2, 1).kind, 'wait');
  t.is(limited(1, 1).kind, 'place');
  t.is(limited(2, 0).kind, 'place');
});

test('capacity: no agent in the group, or no agent with room', (t) => {
  t.deepEqual(capacityPredicate(0), { name: 'capacity', msg: 'no agent in the scaling group' });
  t.deepEqual(capacityPredicate(3), { name: 'capacity', msg: 'waits for free resources' });
});

test('dependencyState: met, waiting or broken for every status', (t) => {
  t.is(dependencyState('TERMINATED', 'SUCCESS'), 'met');
  t.is(dependencyState('TERMINATED', 'FAILURE'), 'broken');
  t.is(dependencyState('CANCELLED', 'FAILURE'), 'broken');
  t.is(dependencyState('ERROR', 'UNDEFINED'), 'broken');
  // Every status from PENDING up to TERMINATING: not over yet.
  for (const s of ['PENDING' as const, ...ACTIVE_STATUSES])
    t.is(dependencyState(s, 'UNDEFINED'), 'waiting', s);
  t.deepEqual(dependencyFailure(dep(A, 'ERROR')), {
    dependency: { sessionId: A, status: 'ERROR', result: 'UNDEFINED', condition: 'afterok' },
  });
});

test('a start deadline that passed cancels the session, after a broken dependency and before starts_at', (t) => {
  const at = new Date(NOW.getTime() - 1);
  t.deepEqual(whyWaits(facts({ startDeadline: { seconds: 60, at } })), {
    kind: 'cancel',
    info: 'start-deadline-exceeded',
    data: { startDeadline: { seconds: 60, deadline: at.toISOString() } },
  });
  t.deepEqual(whyWaits(facts({ startDeadline: { seconds: 60, at: NOW } })).kind, 'cancel', 'at the deadline');
  const ahead = { seconds: 60, at: new Date(NOW.getTime() + 1) };
  t.deepEqual(whyWaits(facts({ startDeadline: ahead })), { kind: 'place' });
  const both = whyWaits(
    facts({ startDeadline: { seconds: 60, at }, dependencies: [dep(A, 'CANCELLED', 'FAILURE')] }),
  );
  t.is(both.kind === 'cancel' ? both.info : both.kind, 'dependency-failed');
});

test('whyWaits reads each dependency by its condition', (t) => {
  const ended = (
    condition: 'afterany' | 'afternotok',
    status: Dependency['status'],
    result: Dependency['result'],
  ) => whyWaits(facts({ dependencies: [{ ...dep(A, status, result), condition }] }));
  t.deepEqual(ended('afterany', 'TERMINATED', 'FAILURE'), { kind: 'place' });
  t.deepEqual(ended('afternotok', 'CANCELLED', 'FAILURE'), { kind: 'place' });
  t.deepEqual(ended('afternotok', 'TERMINATED', 'SUCCESS'), {
    kind: 'cancel',
    info: 'dependency-failed',
    data: { dependency: { sessionId: A, status: 'TERMINATED', result: 'SUCCESS', condition: 'afternotok' } },
  });
  t.deepEqual(ended('afterany', 'RUNNING', 'UNDEFINED'), {
    kind: 'wait',
    predicates: [{ name: 'dependencies', msg: `waits for ${A}` }],
  });
});

test('templates: every hole must be given; the parts are what the SQL renderer concatenates', (t) => {
  t.throws(() => predicate('startsAt'), { message: /startsAt/ });
  t.deepEqual(templateParts('keypairConcurrency'), [
    { text: 'keypair runs its limit of ' },
    { hole: 'limit' },
    { text: ' sessions' },
  ]);
  t.deepEqual(templateParts('noRoom'), [{ text: 'waits for free resources' }]);
  // Every reason's parts put back together give its template.
  for (const reason of Object.keys(WAIT_REASONS) as WaitReason[]) {
    const joined = templateParts(reason)
      .map((p) => ('text' in p ? p.text : `{${p.hole}}`))
      .join('');
    t.is(joined, WAIT_REASONS[reason].template, reason);
  }
});

test('samePredicates: the predicates as jsonb gives them back (keys reordered) are the same; others are not', (t) => {
  const preds = [capacityPredicate(1)];
  // What PostgreSQL returns for the stored value: jsonb puts shorter keys first.
  const stored = JSON.parse(JSON.stringify(preds.map((p) => ({ msg: p.msg, name: p.name })))) as unknown;
  t.not(JSON.stringify(stored), JSON.stringify(preds));
  t.true(samePredicates(stored, preds));
  t.false(samePredicates(stored, [capacityPredicate(0)]));
  t.false(samePredicates(undefined, preds));
  t.false(samePredicates([], preds));
  t.false(samePredicates([{ ...preds[0], extra: 1 }], preds));
  t.true(samePredicates([], []));
});
