import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { clientOf } from '../../src/cli/client.js';
import { freePort } from '../../src/stack/ports.js';
import type { RunningAgent } from '../../src/workers/agent/agent-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { testEnv } from '../helpers/env.js';
import { ChildBai, managerEnv, startBurstAgent, StartCounter, waitAll } from '../helpers/faults.js';
import { batch, removeContainers } from '../helpers/stack.js';

const id = randomBytes(4).toString('hex');
const prefix = `bai-${id}`;
const env = testEnv();
const stateDir = join(env.tmp, `mk-${id}`);
let database: TestDatabase;
let agent: RunningAgent;
let starts: StartCounter;
const managers: ChildBai[] = [];

test.before(async () => {
  mkdirSync(stateDir, { recursive: true });
  database = await createTestDatabase();
  starts = new StartCounter(env.dockerHost, `t${id}-`);
  await starts.attached();
});
test.after.always(async () => {
  starts?.stop();
  for (const m of managers) await m.stop();
  await agent?.close();
  await removeContainers(env.dockerHost, id);
  await database?.drop();
});

test('the manager SIGKILLed during a submit burst and restarted: every session that got a 201 ends', async (t) => {
  t.timeout(600_000); // a cap only: waitAll fails as soon as no session advances
  const port = await freePort();
  const menv = managerEnv({ databaseUrl: database.url, redisUrl: env.redisUrl, prefix, port, stateDir });
  const first = new ChildBai(['manager'], menv);
  managers.push(first);
  const url = await first.ready();
  agent = await startBurstAgent(id, prefix, stateDir);
  const client = clientOf(url, { accessKey: database.admin.accessKey, secretKey: database.admin.secretKey });

  // Four submitters; the manager is killed once 20 sessions were accepted.
  const accepted: string[] = [];
  let refused = 0;
  let n = 0;
  const submitter = async () => {
    while (n < 60) {
      const i = n++;
      try {
        const r = await client.request<{ sessionId: string }>(
          'POST',
          '/session',
          batch('true', { name: `mk-${i}` }),
        );
        accepted.push(r.sessionId);
        if (accepted.length === 20) first.kill('SIGKILL');
      } catch {
        refused += 1;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  await Promise.all([submitter(), submitter(), submitter(), submitter()]);
  await first.exited();
  t.true(refused > 0, 'some submissions met the dead manager');

  const second = new ChildBai(['manager'], menv);
  managers.push(second);
  await second.ready();
  // Sessions committed whose 201 never left the dead manager must end as well.
  const committed = ((await database.db('sessions').select('id')) as { id: string }[]).map((r) => r.id);
  t.true(
    accepted.every((a) => committed.includes(a)),
    'every 201 is in PostgreSQL',
  );
  const views = await waitAll(client, committed, ['TERMINATED', 'CANCELLED'], 120_000);
  for (const a of accepted) {
    const v = views.get(a)!;
    t.is(`${v.status} ${v.result}`, 'TERMINATED SUCCESS', `${v.sessionName}: ${v.statusInfo}`);
  }
  t.deepEqual(starts.twice(), [], 'no session ran twice');
});
