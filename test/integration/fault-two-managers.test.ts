import test from 'ava';
import { clientOf } from '../../src/cli/client.js';
import { startManager, type RunningManager } from '../../src/workers/manager/manager-process.js';
import { testEnv } from '../helpers/env.js';
import { StartCounter, waitAll } from '../helpers/faults.js';
import { batch, quietLog, startTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let second: RunningManager;
let starts: StartCounter;
test.before(async () => {
  stack = await startTestStack({
    // About two managers, not agent loss: a heartbeat late by seconds on a loaded machine must
    // not make an agent LOST (grace 0 would run its sessions again, by design).
    manager: { agentTimeoutMs: 60_000 },
    agents: 2,
    agent: { slots: { cpu: 64, mem: 64 * 1024 ** 3 }, concurrency: 8 },
  });
  second = await startManager({ ...stack.managerConfig, port: 0 }, quietLog);
  starts = new StartCounter(testEnv().dockerHost, `t${stack.id}-`);
  await starts.attached();
});
test.after.always(async () => {
  starts?.stop();
  await second?.close();
  await stack?.close();
});

test('two managers against one PostgreSQL and Redis, 200 sessions: each runs exactly once', async (t) => {
  // The whole may take long on a loaded machine; waitAll fails as soon as nothing advances.
  t.timeout(900_000);
  const { accessKey, secretKey } = stack.database.admin;
  const other = clientOf(second.url, { accessKey, secretKey });
  const clients = [stack.client, other];
  const ids: string[] = [];
  for (let i = 0; i < 200; i += 10) {
    const made = await Promise.all(
      Array.from({ length: 10 }, (_, k) =>
        clients[(i + k) % 2]!.request<{ sessionId: string }>(
          'POST',
          '/session',
          batch('true', { name: `two-${i + k}` }),
        ),
      ),
    );
    ids.push(...made.map((m) => m.sessionId));
  }
  const views = await waitAll(other, ids, ['TERMINATED', 'CANCELLED', 'ERROR'], 180_000);
  const bad = [...views.values()].filter((v) => v.status !== 'TERMINATED' || v.result !== 'SUCCESS');
  t.deepEqual(
    bad.map((v) => `${v.sessionName}: ${v.status} ${v.statusInfo}`),
    [],
  );
  await starts.seen(ids); // Docker reports starts asynchronously
  t.deepEqual(starts.twice(), [], 'no session started twice');
  t.is(ids.filter((id) => starts.starts.get(id) === 1).length, 200, 'each started exactly once');
  const attempts = (await stack.database.db('sessions').max('attempt as m').first()) as { m: number };
  t.is(attempts.m, 1, 'no session needed a second attempt');
  // Each session was finalised once: exactly one TERMINATED event per session.
  const ends = (await stack.database
    .db('session_events')
    .where('name', 'session_terminated')
    .whereNull('kernel_id')
    .groupBy('session_id')
    .select('session_id')
    .count('* as c')) as { session_id: string; c: string }[];
  t.is(ends.length, 200);
  t.true(
    ends.every((e) => Number(e.c) === 1),
    'one TERMINATED event per session',
  );
});
