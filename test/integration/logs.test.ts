import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { clientOf, type ApiClient } from '../../src/cli/client.js';
import { freePort } from '../../src/stack/ports.js';
import { call } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { testEnv } from '../helpers/env.js';
import { eventually } from '../helpers/eventually.js';
import { ChildBai, managerEnv } from '../helpers/faults.js';
import { batch, removeContainers, waitForStatus } from '../helpers/stack.js';

/**
 * `bai manager` and `bai agent` as an operator runs them, their stdout captured: every log line
 * is JSON with level, time and msg; a session's secret environment value and its registry's
 * password appear in no line; the request id of its create appears in the manager's and in the
 * agent's lines about it.
 */

const id = randomBytes(4).toString('hex');
const prefix = `bai-${id}`;
const env = testEnv();
const stateDir = join(env.tmp, `logs-${id}`);
const ENV_SECRET = `env-secret-${randomBytes(8).toString('hex')}`;
const REGISTRY_PASSWORD = `registry-password-${randomBytes(8).toString('hex')}`;
const REQUEST_ID = `req-${randomBytes(6).toString('hex')}`;
let database: TestDatabase;
let manager: ChildBai;
let agent: ChildBai;
let client: ApiClient;

test.before(async () => {
  mkdirSync(stateDir, { recursive: true });
  database = await createTestDatabase();
  // Credentials for the python image's registry: every run job of it carries them.
  await database.db('container_registries').where({ hostname: 'bai.local' }).delete();
  await database.db('container_registries').insert({
    hostname: 'bai.local',
    url: 'https://bai.local',
    username: 'bai',
    password: REGISTRY_PASSWORD,
  });
  const port = await freePort();
  manager = new ChildBai(
    ['manager'],
    managerEnv({ databaseUrl: database.url, redisUrl: env.redisUrl, prefix, port, stateDir }),
  );
  const url = await manager.ready();
  agent = new ChildBai(['agent'], {
    BAI_AGENT_ID: `t${id}-a1`,
    REDIS_URL: env.redisUrl,
    BAI_QUEUE_PREFIX: prefix,
    DOCKER_HOST: env.dockerHost,
    BAI_AGENT_NETWORK_MODE: 'default',
    BAI_STORAGE_ROOT: join(stateDir, 'storage'),
    BAI_STATE_DIR: join(stateDir, 'agent'),
    BAI_AGENT_CPU: '2',
    BAI_AGENT_MEM: String(2 * 1024 ** 3),
    BAI_HEARTBEAT_MS: '500',
  });
  await agent.ready();
  client = clientOf(url, { accessKey: database.admin.accessKey, secretKey: database.admin.secretKey });
  await eventually(
    async () =>
      (await client.request<{ items: unknown[] }>('GET', '/agents', undefined, { status: 'ALIVE' })).items
        .length === 1,
    { timeoutMs: 60_000, message: () => 'the agent to register' },
  );
});
test.after.always(async () => {
  await agent?.stop();
  await manager?.stop();
  await removeContainers(env.dockerHost, id);
  await database?.drop();
});

/**
 * The log lines of a process's output (stdout and stderr together: Node's own warnings on
 * stderr are not ours; the ready line is not a log line).
 */
function logLines(out: string): Record<string, unknown>[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{') && !l.startsWith('{"ready":true'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${l}`);
      }
    });
}

test.serial(
  'JSON lines with ids; no secret in any line; the create’s request id on both sides',
  async (t) => {
    const created = await call<{ sessionId: string }>(
      client,
      'POST',
      '/session',
      batch('test "$API_SECRET" != "" && echo ok', { config: { environ: { API_SECRET: ENV_SECRET } } }),
      undefined,
      { 'X-Request-Id': REQUEST_ID },
    );
    t.is(created.status, 201, JSON.stringify(created.body));
    t.is(created.headers.get('x-request-id'), REQUEST_ID, 'the incoming request id is returned');
    const sessionId = created.body.sessionId;
    const s = await waitForStatus(client, sessionId);
    t.is(`${s.status} ${s.result}`, 'TERMINATED SUCCESS', JSON.stringify(s.statusData));

    // The agent logs the session's exit before it reports it; the manager's create line is older.
    await eventually(
      async () => logLines(agent.output).some((l) => l.msg === 'session exited' && l.sessionId === sessionId),
      { timeoutMs: 60_000, message: () => `the agent's exit line:\n${agent.output.slice(-3000)}` },
    );
    const m = logLines(manager.output);
    const a = logLines(agent.output);
    for (const [who, lines] of [
      ['manager', m],
      ['agent', a],
    ] as const) {
      t.true(lines.length > 0, `${who} logged`);
      for (const l of lines) {
        t.true(
          typeof l.level === 'string' && typeof l.time === 'string' && typeof l.msg === 'string',
          JSON.stringify(l),
        );
        t.false(Number.isNaN(Date.parse(l.time as string)), `${who}: time is a date`);
      }
      const text = JSON.stringify(lines);
      t.false(text.includes(ENV_SECRET), `${who}: the environ value is in no line`);
      t.false(text.includes(REGISTRY_PASSWORD), `${who}: the registry password is in no line`);
      t.false(text.includes(database.admin.secretKey), `${who}: the secret key is in no line`);
    }
    const createdLine = m.find((l) => l.msg === 'session created' && l.sessionId === sessionId);
    t.is(createdLine?.requestId, REQUEST_ID, 'the manager’s create line carries the request id');
    t.truthy(
      m.find(
        (l) =>
          l.msg === 'request' && l.requestId === REQUEST_ID && l.route === '/session' && l.status === 201,
      ),
      'the access line of the create',
    );
    const agentId = `t${id}-a1`;
    const about = a.filter((l) => l.sessionId === sessionId);
    t.deepEqual(
      ['run-session received', 'session started', 'session exited'].filter(
        (msg) => !about.some((l) => l.msg === msg),
      ),
      [],
      'the agent says what it did with the session',
    );
    for (const l of about) {
      t.is(l.requestId, REQUEST_ID, `agent line "${String(l.msg)}" carries the create's request id`);
      t.is(l.agentId, agentId);
    }
  },
);

test.serial('an unusable X-Request-Id is replaced by one of the manager’s', async (t) => {
  const r = await call(client, 'GET', '/sessions', undefined, undefined, {
    'X-Request-Id': 'bad id; with spaces',
  });
  t.is(r.status, 200);
  const rid = r.headers.get('x-request-id') ?? '';
  t.regex(rid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const line = await eventually(
    async () => logLines(manager.output).find((l) => l.requestId === rid && l.msg === 'request') ?? null,
    { timeoutMs: 60_000, message: () => 'the access line of the request' },
  );
  t.is(line.route, '/sessions');
  t.is(line.status, 200);
});
