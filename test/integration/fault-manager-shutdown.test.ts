import test from 'ava';
import { until } from '../helpers/eventually.js';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { clientOf } from '../../src/cli/client.js';
import { loadAgentConfig } from '../../src/config/config.js';
import { freePort } from '../../src/stack/ports.js';
import { startAgent, type RunningAgent } from '../../src/workers/agent/agent-process.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { testEnv } from '../helpers/env.js';
import { ChildBai, managerEnv, waitAll } from '../helpers/faults.js';
import { batch, quietLog, removeContainers } from '../helpers/stack.js';

const id = randomBytes(4).toString('hex');
const env = testEnv();
const stateDir = join(env.tmp, `ms-${id}`);
let database: TestDatabase;
let agent: RunningAgent;
const managers: ChildBai[] = [];

test.before(async () => {
  mkdirSync(stateDir, { recursive: true });
  database = await createTestDatabase();
});
test.after.always(async () => {
  for (const m of managers) await m.stop();
  await agent?.close();
  await removeContainers(env.dockerHost, id);
  await database?.drop();
});

const adminClient = (endpoint: string) =>
  clientOf(endpoint, { accessKey: database.admin.accessKey, secretKey: database.admin.secretKey });

test('SIGTERM: the manager finishes in-flight requests, stops its loops and exits 0', async (t) => {
  t.timeout(600_000); // a cap only: waitAll fails as soon as no session advances
  const port = await freePort();
  const menv = managerEnv({
    databaseUrl: database.url,
    redisUrl: env.redisUrl,
    prefix: `bai-${id}`,
    port,
    stateDir,
    // The in-flight create waits for its session to run; on a loaded machine that can take longer
    // than the default grace, and this test is about finishing it, not about the grace's length.
    extra: { BAI_SHUTDOWN_GRACE_MS: '300000' },
  });
  const m = new ChildBai(['manager'], menv);
  managers.push(m);
  const client = adminClient(await m.ready());
  agent = await startAgent(
    {
      ...loadAgentConfig({}),
      id: `t${id}-a1`,
      redisUrl: env.redisUrl,
      queuePrefix: `bai-${id}`,
      dockerHost: env.dockerHost,
      slots: { cpu: 8, mem: 8 * 1024 ** 3 },
      networkMode: 'default',
      storageRoot: join(stateDir, 'storage'),
      heartbeatMs: 500,
    },
    quietLog,
  );

  // A create that waits until the session runs (about 2 s): in flight when SIGTERM arrives.
  const inFlight = client.request<{ sessionId: string; status: string }>(
    'POST',
    '/session',
    batch('echo drained', { name: 'in-flight', enqueueOnly: false, starts_at: '2s' }),
  );
  // In flight for sure once its session exists: the create now waits for it to run.
  await until('the in-flight session created', () => client.request('GET', '/session/in-flight'));
  m.kill('SIGTERM');
  const created = await inFlight;
  t.is(created.status, 'RUNNING', 'the in-flight request got its full answer');
  // New connections are refused while it drains.
  await t.throwsAsync(client.request('GET', '/session/in-flight'));
  const code = await m.exited();
  t.is(code, 0, m.output.slice(-2000));
  t.regex(m.output, /draining/);

  // Nothing was lost: a new manager sees the session end.
  const again = new ChildBai(['manager'], menv);
  managers.push(again);
  await again.ready();
  const views = await waitAll(client, [created.sessionId]);
  t.is(views.get(created.sessionId)?.result, 'SUCCESS');
});

test('a manager that cannot listen says why and exits 1, rather than running on without its API', async (t) => {
  t.timeout(300_000);
  // The port is taken by someone else (another stack's manager, any server).
  const taken = createServer();
  await new Promise<void>((ok) => taken.listen(0, '127.0.0.1', ok));
  try {
    const port = (taken.address() as AddressInfo).port;
    const m = new ChildBai(
      ['manager'],
      managerEnv({
        databaseUrl: database.url,
        redisUrl: env.redisUrl,
        prefix: `bai-${id}-busy`,
        port,
        stateDir,
      }),
    );
    managers.push(m);
    const err = await t.throwsAsync(m.ready());
    t.is(await m.exited(), 1);
    t.regex(err!.message, /manager could not start/);
    t.regex(err!.message, /EADDRINUSE/);
  } finally {
    taken.close();
  }
});
