import test, { type ExecutionContext } from 'ava';
import { call, slugOf } from '../helpers/api.js';
import { bai } from '../helpers/cli.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';
import {
  conditionState,
  DEPENDENCY_CONDITIONS,
  type DependencyCondition,
} from '../../src/domain/dependency-condition.js';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { SESSION_STATUSES, type SessionResult, type SessionStatus } from '../../src/domain/status.js';
import { DEPENDENCY_BROKEN_SQL, DEPENDENCY_MET_SQL } from '../../src/persistence/dependency-sql.js';

// Dependency conditions (Slurm's afterok, afterany, afternotok) on real services.

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack();
});
test.after.always(async () => {
  await stack?.close();
});

const create = (body: Record<string, unknown>) =>
  stack.client.request<{ sessionId: string }>('POST', '/session', body).then((r) => r.sessionId);
const on = (session: string, condition: DependencyCondition) => ({ session, condition });
const ended = (v: SessionWire) => Date.parse(v.terminationTime as string);
const started = (v: SessionWire) => Date.parse(v.kernels[0]!.startedAt!);

function cancelledFor(t: ExecutionContext, v: SessionWire): void {
  t.is(v.status, 'CANCELLED', `${v.sessionName}: ${v.status} ${v.statusInfo}`);
  t.is(v.statusInfo, 'dependency-failed', v.sessionName);
  t.is(v.kernels[0]?.startedAt ?? null, null, `${v.sessionName} never started`);
  t.false('RUNNING' in v.statusHistory, `${v.sessionName} never ran`);
}

test('the SQL the dispatcher runs says what the domain says, for every condition, status and result', async (t) => {
  const results: SessionResult[] = ['UNDEFINED', 'SUCCESS', 'FAILURE'];
  const rows = DEPENDENCY_CONDITIONS.flatMap((c) =>
    SESSION_STATUSES.flatMap((s) => results.map((r) => [c, s, r] as const)),
  );
  const values = rows.map(() => '(?, ?, ?)').join(', ');
  const { rows: out } = (await stack.database.db.raw(
    `SELECT d.condition, p.status, p.result, ${DEPENDENCY_MET_SQL} AS met, ${DEPENDENCY_BROKEN_SQL} AS broken
       FROM (VALUES ${values}) AS v(condition, status, result)
       CROSS JOIN LATERAL (SELECT v.condition) d
       CROSS JOIN LATERAL (SELECT v.status, v.result) p`,
    rows.flat(),
  )) as {
    rows: {
      condition: DependencyCondition;
      status: SessionStatus;
      result: SessionResult;
      met: boolean;
      broken: boolean;
    }[];
  };
  t.is(out.length, rows.length);
  for (const r of out) {
    const state = conditionState(r.condition, r.status, r.result);
    t.is(r.met, state === 'met', `${r.condition} ${r.status} ${r.result}: met`);
    t.is(r.broken, state === 'broken', `${r.condition} ${r.status} ${r.result}: broken`);
  }
});

test.serial('afterany runs after a dependency that failed; info shows each condition', async (t) => {
  const a = await create(batch('exit 1', { name: 'any-a' }));
  const ok = await create(batch('echo fine', { name: 'any-ok' }));
  const b = await create(
    batch('echo teardown', { name: 'any-b', dependencies: [on(a, 'afterany'), on('any-ok', 'afterok')] }),
  );
  const va = await waitForStatus(stack.client, a);
  t.is(va.result, 'FAILURE');
  t.is(va.exitCode, 1);
  const vb = await waitForStatus(stack.client, b);
  t.is(vb.status, 'TERMINATED', `${vb.statusInfo}`);
  t.is(vb.result, 'SUCCESS');
  t.true(started(vb) >= ended(va), 'the teardown started after its dependency ended');
  t.deepEqual([...vb.dependencies].sort(), [a, ok].sort());
  t.deepEqual(
    [...vb.dependencyConditions].sort((x, y) => x.sessionId.localeCompare(y.sessionId)),
    [
      { sessionId: a, condition: 'afterany' as const },
      { sessionId: ok, condition: 'afterok' as const },
    ].sort((x, y) => x.sessionId.localeCompare(y.sessionId)),
  );
});

test.serial(
  'afternotok runs after a failure and is cancelled dependency-failed after a success',
  async (t) => {
    const bad = await create(batch('exit 3', { name: 'notok-bad' }));
    const good = await create(batch('echo ok', { name: 'notok-good' }));
    const onBad = await create(
      batch('echo notify', { name: 'notok-on-bad', dependencies: [on(bad, 'afternotok')] }),
    );
    const onGood = await create(
      batch('echo notify', { name: 'notok-on-good', dependencies: [on(good, 'afternotok')] }),
    );
    const vBad = await waitForStatus(stack.client, bad);
    const vOnBad = await waitForStatus(stack.client, onBad);
    t.is(vOnBad.result, 'SUCCESS', `${vOnBad.status} ${vOnBad.statusInfo}`);
    t.true(started(vOnBad) >= ended(vBad));

    const vGood = await waitForStatus(stack.client, good);
    t.is(vGood.result, 'SUCCESS');
    const vOnGood = await waitForStatus(stack.client, onGood);
    cancelledFor(t, vOnGood);
    t.deepEqual((vOnGood.statusData as { dependency?: unknown }).dependency, {
      sessionId: good,
      status: 'TERMINATED',
      result: 'SUCCESS',
      condition: 'afternotok',
    });
  },
);

test.serial(
  'chains: a broken link cancels what follows it, and afterany/afternotok steps after it still run',
  async (t) => {
    // A succeeds; B (afternotok A) can never run; C (afterok B) follows it; D (afterany C) runs.
    const a = await create(batch('echo a', { name: 'ch1-a' }));
    const b = await create(batch('echo b', { name: 'ch1-b', dependencies: [on(a, 'afternotok')] }));
    const c = await create(batch('echo c', { name: 'ch1-c', dependencies: [b] }));
    const d = await create(batch('echo d', { name: 'ch1-d', dependencies: [on(c, 'afterany')] }));
    // A2 fails; B2 (afterok A2) is cancelled; C2 (afternotok B2) runs; D2 (afterok C2) runs.
    const a2 = await create(batch('exit 2', { name: 'ch2-a' }));
    const b2 = await create(batch('echo b', { name: 'ch2-b', dependencies: [on(a2, 'afterok')] }));
    const c2 = await create(batch('echo c', { name: 'ch2-c', dependencies: [on(b2, 'afternotok')] }));
    const d2 = await create(batch('echo d', { name: 'ch2-d', dependencies: [c2] }));

    t.is((await waitForStatus(stack.client, a)).result, 'SUCCESS');
    const vb = await waitForStatus(stack.client, b);
    cancelledFor(t, vb);
    const vc = await waitForStatus(stack.client, c);
    cancelledFor(t, vc);
    t.deepEqual((vc.statusData as { dependency?: unknown }).dependency, {
      sessionId: b,
      status: 'CANCELLED',
      result: 'FAILURE',
      condition: 'afterok',
    });
    const vd = await waitForStatus(stack.client, d);
    t.is(vd.result, 'SUCCESS', `${vd.status} ${vd.statusInfo}`);

    t.is((await waitForStatus(stack.client, a2)).result, 'FAILURE');
    const vb2 = await waitForStatus(stack.client, b2);
    cancelledFor(t, vb2);
    const vc2 = await waitForStatus(stack.client, c2);
    t.is(vc2.result, 'SUCCESS', `${vc2.status} ${vc2.statusInfo}`);
    const vd2 = await waitForStatus(stack.client, d2);
    t.is(vd2.result, 'SUCCESS', `${vd2.status} ${vd2.statusInfo}`);
    t.true(started(vd2) >= ended(vc2), 'D2 started after C2 ended');
  },
);

test.serial('bad dependencies are 400s naming the entry', async (t) => {
  const a = await create(batch('echo a', { name: 'bad-dep-a' }));
  const cases: [unknown, RegExp][] = [
    [[on(a, 'afterwhile' as DependencyCondition)], /unknown condition "afterwhile"/],
    [[{ condition: 'afterany' }], /dependencies\[0\]\.session/],
    [[on(a, 'afterok'), on('bad-dep-a', 'afternotok')], /two conditions/],
  ];
  for (const [dependencies, msg] of cases) {
    const r = await call<{ msg?: string }>(stack.client, 'POST', '/session', batch('true', { dependencies }));
    t.is(r.status, 400, JSON.stringify(dependencies));
    t.is(slugOf(r), 'generic-bad-request');
    t.regex(String(r.body.msg), msg);
  }
});

test.serial(
  'bai session create --depends afterany:NAME runs after a failure; an unknown condition exits 4',
  async (t) => {
    const failed = await bai(stack, [
      'session',
      'create',
      '--type',
      'batch',
      '--enqueue-only',
      '--json',
      '-t',
      'cli-dep-a',
      '-c',
      'exit 5',
      'python',
    ]);
    t.is(failed.code, 0, failed.stderr);
    const made = await bai(stack, [
      'session',
      'create',
      '--type',
      'batch',
      '--wait',
      '--json',
      '-t',
      'cli-dep-b',
      '--depends',
      'afterany:cli-dep-a',
      '-c',
      'echo after',
      'python',
    ]);
    t.is(made.code, 0, made.stderr);
    const info = JSON.parse(made.stdout) as SessionWire;
    t.is(info.result, 'SUCCESS');
    t.deepEqual(info.dependencyConditions, [
      { sessionId: (JSON.parse(failed.stdout) as { sessionId: string }).sessionId, condition: 'afterany' },
    ]);
    const shown = await bai(stack, ['session', 'info', 'cli-dep-b']);
    t.regex(shown.stdout, /Depends on\s+\S+ \(afterany\)/);

    const bad = await bai(stack, [
      'session',
      'create',
      '--type',
      'batch',
      '--depends',
      'afterall:cli-dep-a',
      '-c',
      'true',
      'python',
    ]);
    t.is(bad.code, 4);
    t.regex(bad.stderr, /unknown condition "afterall"; use afterok, afterany, afternotok/);
  },
);
