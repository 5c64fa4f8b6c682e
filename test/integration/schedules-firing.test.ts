import test, { type ExecutionContext } from 'ava';
import { call } from '../helpers/api.js';
import { testEnv } from '../helpers/env.js';
import { StartCounter, waitAll } from '../helpers/faults.js';
import {
  createSchedule,
  instantsFromTo,
  job,
  runsOf,
  sessionsOf,
  suspend,
  waitRuns,
  type RunRow,
} from '../helpers/schedules.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let starts: StartCounter;
test.before(async () => {
  stack = await startTestStack({ agent: { slots: { cpu: 64, mem: 64 * 1024 ** 3 }, concurrency: 8 } });
  starts = new StartCounter(testEnv().dockerHost, `t${stack.id}-`);
  await starts.attached();
});
test.after.always(async () => {
  starts?.stop();
  await stack?.close();
});

/**
 * Every instant from the first row to the last has exactly one row (no gap, no double), and a
 * missed one was superseded: decided in the same transaction as a later instant (a tick that
 * found two instants due, e.g. on a loaded machine), never dropped on its own.
 */
function assertEveryInstantOnce(t: ExecutionContext, rows: RunRow[], stepSeconds: number): void {
  const instants = rows.map((r) => r.scheduled_for.toISOString());
  t.deepEqual(instants, instantsFromTo(rows[0]!.scheduled_for, rows.at(-1)!.scheduled_for, stepSeconds));
  for (const r of rows) t.is(r.scheduled_for.getTime() % (stepSeconds * 1000), 0, 'an instant of the cron');
  for (const [i, r] of rows.entries()) {
    if (r.outcome !== 'missed') continue;
    const later = rows.slice(i + 1).find((x) => x.created_at.getTime() === r.created_at.getTime());
    t.truthy(
      later,
      `missed ${r.scheduled_for.toISOString()} was superseded by a later instant decided with it`,
    );
  }
}

test.serial(
  'every 2 s (6 fields): five consecutive instants, each decided once, each session ran once',
  async (t) => {
    t.timeout(600_000);
    const db = stack.database.db;
    await createSchedule(stack.client, {
      name: 'every2',
      cron: '*/2 * * * * *',
      session: job('echo tick'),
      successfulHistoryLimit: 100,
      failedHistoryLimit: 100,
    });
    // The window is the schedule's own: five instants (0, 2, 4, 6, 8 s: a 9 s window), not a sleep.
    await waitRuns(db, 'every2', 5);
    const rows = (await suspend(stack.client, db, 'every2')).slice(0, 5);
    t.is(rows.length, 5);
    assertEveryInstantOnce(t, rows, 2);
    t.is(rows.at(-1)!.scheduled_for.getTime() - rows[0]!.scheduled_for.getTime(), 8_000);
    t.true(
      rows.every((r) => r.outcome === 'started' || r.outcome === 'missed'),
      JSON.stringify(rows),
    );
    const started = rows.filter((r) => r.outcome === 'started');
    t.log(`${started.length} of the 5 instants started a session (the others were superseded)`);
    t.true(started.length >= 1);

    const sessions = (await sessionsOf(db, 'every2')).filter(
      (s) => s.scheduled_for <= rows.at(-1)!.scheduled_for,
    );
    t.deepEqual(
      sessions.map((s) => [s.id, s.scheduled_for.toISOString(), s.name]),
      started.map((r) => [
        r.session_id,
        r.scheduled_for.toISOString(),
        `every2-${r.scheduled_for.getTime() / 1000}`,
      ]),
      'one session per started instant, named after it',
    );
    const ids = sessions.map((s) => s.id);
    const views = await waitAll(stack.client, ids, ['TERMINATED', 'CANCELLED', 'ERROR']);
    t.deepEqual(
      [...views.values()]
        .filter((v) => v.status !== 'TERMINATED' || v.result !== 'SUCCESS')
        .map((v) => v.sessionName),
      [],
    );
    t.true(await starts.seen(ids));
    t.deepEqual(
      ids.map((id) => starts.starts.get(id)),
      ids.map(() => 1),
      'each session started exactly once',
    );
  },
);

test.serial('suspend/resume: nothing fires while suspended, the plan restarts from the resume', async (t) => {
  t.timeout(600_000);
  const db = stack.database.db;
  const limits = { successfulHistoryLimit: 100, failedHistoryLimit: 100 };
  await createSchedule(stack.client, {
    name: 'witness',
    cron: '*/2 * * * * *',
    session: job('true'),
    ...limits,
  });
  await createSchedule(stack.client, {
    name: 'paused',
    cron: '*/2 * * * * *',
    session: job('true'),
    ...limits,
  });
  await waitRuns(db, 'paused', 2);
  const before = await suspend(stack.client, db, 'paused');
  const view = await call(stack.client, 'GET', '/schedules/paused');
  t.like(view.body, { suspend: true, nextRunAt: null, nextInstants: [] });
  const lastBefore = before.at(-1)!.scheduled_for;
  // Three instants of the witness after the pause: instants of the paused one came and went.
  const witnessed = (await runsOf(db, 'witness')).filter((r) => r.scheduled_for > lastBefore).length;
  await waitRuns(db, 'witness', (await runsOf(db, 'witness')).length - witnessed + 3);
  t.deepEqual(
    (await runsOf(db, 'paused')).map((r) => r.scheduled_for.toISOString()),
    before.map((r) => r.scheduled_for.toISOString()),
    'no instant decided while suspended',
  );
  const resumedAt = new Date();
  const resumed = await call<{ nextRunAt: string }>(stack.client, 'PATCH', '/schedules/paused', {
    suspend: false,
  });
  t.is(resumed.status, 200);
  t.true(new Date(resumed.body.nextRunAt) > resumedAt);
  const after = (await waitRuns(db, 'paused', before.length + 2)).slice(before.length);
  await suspend(stack.client, db, 'paused');
  await suspend(stack.client, db, 'witness');
  t.true(
    after.every((r) => r.scheduled_for > resumedAt),
    `runs after the resume are instants after it: ${JSON.stringify(after)}`,
  );
  // From the resume on, the plan is the cron's again: every instant once; on a loaded machine a
  // tick late past an instant records it missed with the later one it decided (catch-up rule).
  assertEveryInstantOnce(t, after, 2);
  t.true(
    after.some((r) => r.outcome === 'started'),
    `a run after the resume started: ${JSON.stringify(after)}`,
  );
});

test.serial(
  'downtime: one catch-up run (the latest instant), the earlier ones recorded missed',
  async (t) => {
    const db = stack.database.db;
    await createSchedule(stack.client, {
      name: 'catchup',
      cron: '0 * * * * *',
      suspend: true,
      session: job('true'),
      successfulHistoryLimit: 100,
      failedHistoryLimit: 100,
    });
    // As if every manager had been down for ten minutes: the next instant is long past.
    const since = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000);
    await db('schedules').where({ name: 'catchup' }).update({ suspend: false, next_run_at: since });
    const rows = await waitRuns(db, 'catchup', 10);
    await suspend(stack.client, db, 'catchup');
    // The rows of the first decision: one transaction (one created_at).
    const first = rows.filter((r) => r.created_at.getTime() === rows[0]!.created_at.getTime());
    t.true(first.length >= 10);
    assertEveryInstantOnce(t, first, 60);
    t.deepEqual(first[0]!.scheduled_for, since);
    t.deepEqual(
      first.map((r) => r.outcome),
      [...first.slice(1).map(() => 'missed'), 'started'],
    );
    t.truthy(first.at(-1)!.session_id);
  },
);

test.serial('an instant past startingDeadlineSeconds is recorded missed, not run late', async (t) => {
  const db = stack.database.db;
  await createSchedule(stack.client, {
    name: 'deadline',
    cron: '0 0 1 1 *',
    startingDeadlineSeconds: 60,
    suspend: true,
    session: job('true'),
    failedHistoryLimit: 10,
  });
  await db('schedules')
    .where({ name: 'deadline' })
    .update({ suspend: false, next_run_at: new Date('2025-01-01T00:00:00Z') });
  const rows = await waitRuns(db, 'deadline', 2);
  t.deepEqual(
    rows.map((r) => [r.scheduled_for.toISOString(), r.outcome, r.session_id]),
    [
      ['2025-01-01T00:00:00.000Z', 'missed', null],
      ['2026-01-01T00:00:00.000Z', 'missed', null],
    ],
  );
  t.deepEqual(await sessionsOf(db, 'deadline'), []);
  const view = await call<{ nextRunAt: string; lastRun: unknown }>(
    stack.client,
    'GET',
    '/schedules/deadline',
  );
  t.is(view.body.nextRunAt, '2027-01-01T00:00:00.000Z');
  t.like(view.body.lastRun, { outcome: 'missed', sessionId: null, scheduledFor: '2026-01-01T00:00:00.000Z' });
  const text = await stack.manager.metrics.render();
  const m = /bai_schedule_runs_total\{outcome="missed"\} (\d+)/.exec(text);
  t.true(Number(m?.[1] ?? 0) >= 2, 'counted in bai_schedule_runs_total');
});
