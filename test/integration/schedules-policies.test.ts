import test from 'ava';
import { call } from '../helpers/api.js';
import { waitAll } from '../helpers/faults.js';
import { createSchedule, job, runsOf, sessionsOf, suspend, waitRuns } from '../helpers/schedules.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ agent: { slots: { cpu: 64, mem: 64 * 1024 ** 3 }, concurrency: 8 } });
});
test.after.always(async () => {
  await stack?.close();
});

const LIMITS = { successfulHistoryLimit: 100, failedHistoryLimit: 100 };

test('Forbid, a job longer than the period: never two live runs, the instants in between recorded skipped', async (t) => {
  t.timeout(600_000);
  const db = stack.database.db;
  await createSchedule(stack.client, {
    name: 'forbid',
    cron: '*/2 * * * * *',
    concurrencyPolicy: 'Forbid',
    session: job('sleep 5'),
    ...LIMITS,
  });
  await waitRuns(db, 'forbid', 2, { outcome: 'started' });
  await waitRuns(db, 'forbid', 2, { outcome: 'skipped' });
  const rows = await suspend(stack.client, db, 'forbid');
  const sessions = await sessionsOf(db, 'forbid');
  await waitAll(
    stack.client,
    sessions.map((s) => s.id),
    ['TERMINATED', 'CANCELLED', 'ERROR'],
  );
  const ended = await sessionsOf(db, 'forbid');
  // Each run was created only after the one before it had ended.
  for (let i = 1; i < ended.length; i++) {
    const prev = ended[i - 1]!;
    const next = ended[i]!;
    t.truthy(prev.terminated_at, `${prev.name} ended`);
    t.true(
      next.created_at.getTime() >= prev.terminated_at!.getTime(),
      `${next.name} created ${next.created_at.toISOString()} after ${prev.name} ended ${prev.terminated_at?.toISOString()}`,
    );
  }
  const skipped = rows.filter((r) => r.outcome === 'skipped');
  t.true(skipped.length >= 2);
  for (const r of skipped) {
    t.is(r.session_id, null);
    // A skipped instant was decided while a run created before it was live.
    const live = ended.filter((s) => s.scheduled_for < r.scheduled_for).at(-1);
    t.truthy(live, `a run before the skipped ${r.scheduled_for.toISOString()}`);
    t.true(live!.created_at.getTime() <= r.created_at.getTime());
  }
  const view = await call<{ runs: { outcome: string }[] }>(stack.client, 'GET', '/schedules/forbid');
  t.true(
    view.body.runs.some((r) => r.outcome === 'skipped'),
    'skipped runs are in the view',
  );
});

test('Replace: the live run is cancelled (by the schedule) when the next instant starts', async (t) => {
  t.timeout(600_000);
  const db = stack.database.db;
  await createSchedule(stack.client, {
    name: 'replace',
    cron: '*/2 * * * * *',
    concurrencyPolicy: 'Replace',
    session: job('sleep 600'),
    ...LIMITS,
  });
  await waitRuns(db, 'replace', 3, { outcome: 'started' });
  await suspend(stack.client, db, 'replace');
  const sessions = await sessionsOf(db, 'replace');
  const last = sessions.at(-1)!;
  const replaced = sessions.slice(0, -1);
  t.true(replaced.length >= 2);
  // The replaced runs end through the session cancel path; the last one is still live.
  const ended = await waitAll(
    stack.client,
    replaced.map((s) => s.id),
    ['TERMINATED', 'CANCELLED'],
  );
  for (const [i, s] of replaced.entries()) {
    const v = ended.get(s.id)!;
    t.is(v.statusInfo, 'user-requested', s.name);
    t.like(v.statusData, { cancelledBy: 'schedule', scheduleName: 'replace' }, s.name);
    // It was told to stop once its successor had been created, by the successor's instant.
    const successor = sessions[i + 1]!;
    const stopAt = v.statusHistory.CANCELLED ?? v.statusHistory.TERMINATING;
    t.truthy(stopAt, `${s.name} ${JSON.stringify(v.statusHistory)}`);
    t.true(
      new Date(stopAt!).getTime() >= successor.created_at.getTime(),
      `${s.name} stopped after ${successor.name} came`,
    );
    t.is(v.statusData.replacedBy, successor.scheduled_for.toISOString());
  }
  const live = await call<{ status: string }>(stack.client, 'GET', `/session/${last.id}`);
  t.false(['TERMINATED', 'CANCELLED'].includes(live.body.status), 'the newest run goes on');
  t.is((await call(stack.client, 'DELETE', `/session/${last.id}`)).status, 200);
});

test('history beyond the limits is pruned; the sessions stay', async (t) => {
  t.timeout(600_000);
  const db = stack.database.db;
  await createSchedule(stack.client, {
    name: 'pruned',
    cron: '0 0 1 1 *',
    session: job('true'),
    successfulHistoryLimit: 2,
    failedHistoryLimit: 1,
  });
  const ids: string[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await call<{ sessionId: string }>(stack.client, 'POST', '/schedules/pruned/trigger');
    t.is(r.status, 201);
    ids.push(r.body.sessionId);
    await waitAll(stack.client, [r.body.sessionId], ['TERMINATED', 'CANCELLED', 'ERROR']);
  }
  // The fourth trigger pruned what had ended before it: three successes, the oldest beyond the
  // limit of two; the fourth run (live then) is kept.
  const rows = await runsOf(db, 'pruned');
  t.is(rows.length, 3);
  t.deepEqual(
    rows.map((r) => r.session_id),
    ids.slice(-rows.length),
    'the newest runs are kept',
  );
  t.is((await sessionsOf(db, 'pruned')).length, 4, 'sessions are not deleted');
});
