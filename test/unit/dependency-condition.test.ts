import test from 'ava';
import {
  conditionState,
  DEPENDENCY_CONDITIONS,
  mergeDependencies,
  parseDependencies,
  parseDependsArg,
  type DependencyCondition,
} from '../../src/domain/dependency-condition.js';
import { InvalidRequest } from '../../src/domain/errors.js';
import { parseCreateSessionBody } from '../../src/domain/session-request.js';
import { ACTIVE_STATUSES, type SessionResult, type SessionStatus } from '../../src/domain/status.js';

const RESULTS: SessionResult[] = ['UNDEFINED', 'SUCCESS', 'FAILURE'];
/** Every way a dependency can end: TERMINATED with each result, CANCELLED, ERROR. */
const ENDS: [SessionStatus, SessionResult][] = [
  ['TERMINATED', 'SUCCESS'],
  ['TERMINATED', 'FAILURE'],
  ['TERMINATED', 'UNDEFINED'],
  ['CANCELLED', 'FAILURE'],
  ['CANCELLED', 'UNDEFINED'],
  ['ERROR', 'UNDEFINED'],
  ['ERROR', 'FAILURE'],
];
const isSuccess = ([s, r]: [SessionStatus, SessionResult]) => s === 'TERMINATED' && r === 'SUCCESS';

test('afterok: met after TERMINATED/SUCCESS, broken after any other end', (t) => {
  for (const end of ENDS)
    t.is(conditionState('afterok', ...end), isSuccess(end) ? 'met' : 'broken', end.join('/'));
});

test('afterany: met after any end, never broken', (t) => {
  for (const end of ENDS) t.is(conditionState('afterany', ...end), 'met', end.join('/'));
});

test('afternotok: met after any end but TERMINATED/SUCCESS, broken after a success', (t) => {
  for (const end of ENDS)
    t.is(conditionState('afternotok', ...end), isSuccess(end) ? 'broken' : 'met', end.join('/'));
});

test('every condition waits while the dependency has not ended', (t) => {
  for (const c of DEPENDENCY_CONDITIONS)
    for (const s of ['PENDING' as const, ...ACTIVE_STATUSES])
      for (const r of RESULTS) t.is(conditionState(c, s, r), 'waiting', `${c} ${s} ${r}`);
});

test('dependencies: plain ids and names are afterok; objects carry a condition', (t) => {
  t.deepEqual(
    parseDependencies([
      'job-a',
      { session: 'job-b', condition: 'afterany' },
      { sessionId: 'job-c', condition: 'afternotok' },
      { session: 'job-d' },
    ]),
    [
      { ref: 'job-a', condition: 'afterok' },
      { ref: 'job-b', condition: 'afterany' },
      { ref: 'job-c', condition: 'afternotok' },
      { ref: 'job-d', condition: 'afterok' },
    ],
  );
  const r = parseCreateSessionBody(
    { image: 'python', dependencies: [{ session: 'x', condition: 'afterany' }] },
    new Date(),
  );
  t.deepEqual(r.dependencies, [{ ref: 'x', condition: 'afterany' }]);
});

test('dependencies: an unknown condition or a malformed entry is a 400 naming it', (t) => {
  const bad: [unknown, RegExp][] = [
    [
      [{ session: 'x', condition: 'afterwards' }],
      /dependencies\[0\]\.condition: unknown condition "afterwards"; use afterok, afterany, afternotok/,
    ],
    [['a', { condition: 'afterok' }], /dependencies\[1\]\.session/],
    [[3], /dependencies\[0\]/],
    [[''], /dependencies\[0\]/],
    ['abc', /dependencies must be a list/],
    [Array.from({ length: 65 }, (_, i) => `s${i}`), /more than 64/],
  ];
  for (const [v, msg] of bad) {
    const e = t.throws(() => parseDependencies(v), { instanceOf: InvalidRequest });
    t.regex(e.message, msg);
  }
});

test('the same session twice: once with one condition, refused with two', (t) => {
  const d = (ref: string, id: string, condition: DependencyCondition) => ({ ref, id, condition });
  t.deepEqual(mergeDependencies([d('a', '1', 'afterany'), d('1', '1', 'afterany'), d('b', '2', 'afterok')]), [
    { id: '1', condition: 'afterany' },
    { id: '2', condition: 'afterok' },
  ]);
  t.throws(() => mergeDependencies([d('a', '1', 'afterok'), d('1', '1', 'afternotok')]), {
    instanceOf: InvalidRequest,
    message: /two conditions/,
  });
});

test('--depends CONDITION:NAME, plain NAME is afterok, an unknown condition is refused', (t) => {
  t.deepEqual(parseDependsArg('build-1'), { session: 'build-1', condition: 'afterok' });
  t.deepEqual(parseDependsArg('afterany:x'), { session: 'x', condition: 'afterany' });
  t.deepEqual(parseDependsArg('afternotok:job.2'), { session: 'job.2', condition: 'afternotok' });
  t.deepEqual(parseDependsArg('afterok:x'), { session: 'x', condition: 'afterok' });
  t.throws(() => parseDependsArg('aftersome:x'), { message: /unknown condition "aftersome"/ });
  t.throws(() => parseDependsArg('afterany:'), { message: /no session/ });
});
