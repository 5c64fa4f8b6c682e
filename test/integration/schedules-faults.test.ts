import test from 'ava';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { clientOf } from '../../src/cli/client.js';
import { freePort } from '../../src/stack/ports.js';
import type { Service } from '../../src/stack/services.js';
import type { RunningAgent } from '../../src/workers/agent/agent-process.js';
import { startManager, type RunningManager } from '../../src/workers/manager/manager-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { testEnv } from '../helpers/env.js';
import {
  ChildBai,
  managerEnv,
  startBurstAgent,
  startRedisFaultStack,
  StartCounter,
  waitAll,
} from '../helpers/faults.js';
import {
  createSchedule,
  instantsFromTo,
  job,
  sessionsOf,
  suspend,
  waitRuns,
  type RunRow,
} from '../helpers/schedules.js';
import { quietLog, removeContainers, type TestStack } from '../helpers/stack.js';
import type { ApiClient } from '../../src/cli/client.js';
import type { Db } from '../../src/persistence/db.js';
import type { ExecutionContext } from 'ava';

const env = testEnv();
let redis: Service | undefined;
let stack: TestStack | undefined;
let second: RunningManager | undefined;
let starts: StartCounter | undefined;
// The SIGKILL test's own setup: managers as child processes.
const killId = randomBytes(4).toString('hex');
let database: TestDatabase | undefined;
let agent: RunningAgent | undefined;
const children: ChildBai[] = [];

test.after.always(async () => {
  starts?.stop();
  await second?.close();
  await stack?.close();
  await redis?.stop();
  for (const c of children) await c.stop();
  await agent?.close();
  await removeContainers(env.dockerHost, killId);
  await database?.drop();
});

/**
 * The instants from the first to the last row each have exactly one row; each started one has
 * exactly one session, whose container started once; a missed one was decided past its
 * starting deadline (`deadlineMs`: the time between the instant and its row).
 */
async function assertExactlyOnce(
  t: ExecutionContext,
  db: Db,
  client: ApiClient,
  counter: StartCounter,
  name: string,
  rows: RunRow[],
  stepSeconds: number,
  deadlineMs: number,
): Promise<void> {
  t.deepEqual(
    rows.map((r) => r.scheduled_for.toISOString()),
    instantsFromTo(rows[0]!.scheduled_for, rows.at(-1)!.scheduled_for, stepSeconds),
    'every instant decided, once',
  );
  for (const r of rows.filter((x) => x.outcome === 'missed'))
    t.true(
      r.created_at.getTime() - r.scheduled_for.getTime() > deadlineMs,
      `missed ${r.scheduled_for.toISOString()} only past its deadline`,
    );
  t.deepEqual(
    rows.filter((r) => !['started', 'missed'].includes(r.outcome)),
    [],
  );
  const started = rows.filter((r) => r.outcome === 'started');
  t.true(started.length >= 1);
  const last = rows.at(-1)!.scheduled_for;
  const sessions = (await sessionsOf(db, name)).filter((s) => s.scheduled_for <= last);
  t.deepEqual(
    sessions.map((s) => [s.scheduled_for.toISOString(), s.id]),
    started.map((r) => [r.scheduled_for.toISOString(), r.session_id]),
    'exactly one session per started instant',
  );
  const ids = sessions.map((s) => s.id);
  await waitAll(client, ids, ['TERMINATED', 'CANCELLED', 'ERROR']);
  t.true(await counter.seen(ids));
  t.deepEqual(
    ids.filter((id) => counter.starts.get(id) !== 1),
    [],
    'each session started exactly once',
  );
}

test.serial('two managers over 20 instants, Redis FLUSHALL midway: one session per instant', async (t) => {
  t.timeout(900_000);
  ({ redis, stack, starts } = await startRedisFaultStack());
  second = await startManager({ ...stack.managerConfig, port: 0 }, quietLog);
  const db = stack.database.db;
  // The second manager's API creates it: the two share one database and one Redis.
  const other = clientOf(second.url, stack.database.admin);
  await createSchedule(other, {
    name: 'shared',
    cron: '* * * * * *',
    session: job('true'),
    successfulHistoryLimit: 1000,
    failedHistoryLimit: 1000,
  });
  await waitRuns(db, 'shared', 10);
  // Redis loses everything (leases, queues) while the schedule runs.
  const r = new Redis(redis.url);
  await r.flushall();
  await r.quit();
  const rows = (await waitRuns(db, 'shared', 20)).slice(0, 20);
  await suspend(stack.client, db, 'shared');
  // No deadline: a missed instant is one superseded by a later one decided with it (a tick
  // that found two due); the check below is of the row's existence, not of its lateness.
  await assertExactlyOnce(t, db, stack.client, starts, 'shared', rows, 1, 0);
});

test.serial(
  'the manager holding the lease SIGKILLed: none doubled, none lost short of the deadline',
  async (t) => {
    t.timeout(900_000);
    const stateDir = join(env.tmp, `sk-${killId}`);
    mkdirSync(stateDir, { recursive: true });
    database = await createTestDatabase();
    const counter = new StartCounter(env.dockerHost, `t${killId}-`);
    await counter.attached();
    try {
      const prefix = `bai-${killId}`;
      const menv = async () =>
        managerEnv({
          databaseUrl: database!.url,
          redisUrl: env.redisUrl,
          prefix,
          port: await freePort(),
          stateDir,
        });
      const holder = new ChildBai(['manager'], await menv());
      children.push(holder);
      const url = await holder.ready();
      agent = await startBurstAgent(killId, prefix, stateDir);
      const db = database.db;
      await createSchedule(clientOf(url, database.admin), {
        name: 'survivor',
        cron: '*/2 * * * * *',
        // Shorter than the period: an instant superseded by a later one is past it too.
        startingDeadlineSeconds: 1,
        session: job('true'),
        successfulHistoryLimit: 1000,
        failedHistoryLimit: 1000,
      });
      // The first manager alone holds the schedules lease; the second starts once it fires.
      await waitRuns(db, 'survivor', 3);
      const standby = new ChildBai(['manager'], await menv());
      children.push(standby);
      const client = clientOf(await standby.ready(), database.admin);
      await waitRuns(db, 'survivor', 6);
      holder.kill('SIGKILL');
      await holder.exited();
      const rows = (await waitRuns(db, 'survivor', 20)).slice(0, 20);
      await suspend(client, db, 'survivor');
      const after = rows.filter((r) => r.created_at > rows[5]!.created_at && r.outcome === 'started');
      t.true(after.length >= 1, 'the standby manager took over');
      await assertExactlyOnce(t, db, client, counter, 'survivor', rows, 2, 1_000);
    } finally {
      counter.stop();
    }
  },
);
