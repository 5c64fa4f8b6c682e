import test from 'ava';
import { holdsWithin, until } from '../helpers/eventually.js';
import Docker from 'dockerode';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { heartbeatKey } from '../../src/queue/names.js';
import type { Heartbeat } from '../../src/queue/payloads.js';
import { openRedis } from '../../src/queue/redis.js';
import { testEnv } from '../helpers/env.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * Pulls with credentials from a real private registry (Debian's docker-registry with htpasswd
 * auth on loopback), and the ways a pull fails: a wrong password, an unknown tag.
 */

const USER = 'bai';
const PASSWORD = 'registry-secret';
let stack: TestStack;
let docker: Docker;
let registry: ChildProcess | null = null;
let dir = '';
let host = '';

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', ok));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((ok) => srv.close(() => ok()));
  return port;
}

async function startRegistry(): Promise<void> {
  const port = await freePort();
  host = `127.0.0.1:${port}`;
  const htpasswd = execFileSync('htpasswd', ['-Bbn', USER, PASSWORD], { encoding: 'utf8' });
  writeFileSync(join(dir, 'htpasswd'), htpasswd);
  mkdirSync(join(dir, 'data'));
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: { level: error }',
      'storage:',
      `  filesystem: { rootdirectory: ${join(dir, 'data')} }`,
      'http:',
      `  addr: ${host}`,
      'auth:',
      `  htpasswd: { realm: bai-test, path: ${join(dir, 'htpasswd')} }`,
    ].join('\n'),
  );
  registry = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  // Up when it asks for credentials (401); refused until then.
  await until('docker-registry to start', async () => (await fetch(`http://${host}/v2/`)).status === 401);
}

/** The docker CLI against the test engine, with a config folder of its own (login writes there). */
function dockerCli(args: string[], input?: string): string {
  return execFileSync('docker', ['-H', testEnv().dockerHost, ...args], {
    encoding: 'utf8',
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, DOCKER_CONFIG: join(dir, 'cli') },
  });
}

/**
 * An image whose top layer the engine does not have (20 MB of random bytes over the python
 * image), pushed to the registry and removed locally, so the agent must download it.
 */
async function pushImage(): Promise<void> {
  const c = await docker.createContainer({
    Image: 'bai.local/python:3.11-bookworm',
    Cmd: ['/bin/sh', '-c', 'head -c 20000000 /dev/urandom > /blob'],
    HostConfig: { NetworkMode: 'none' },
  });
  await c.start();
  await c.wait();
  await c.commit({ repo: `${host}/python`, tag: 't' });
  await c.remove({ force: true });
  dockerCli(['login', '-u', USER, '--password-stdin', host], PASSWORD);
  dockerCli(['push', '-q', `${host}/python:t`]);
  dockerCli(['rmi', `${host}/python:t`]);
}

test.before(async () => {
  docker = new Docker({ socketPath: testEnv().dockerHost.replace(/^unix:\/\//, '') });
  dir = mkdtempSync(join(testEnv().tmp, 'registry-'));
  await startRegistry();
  await pushImage();
  stack = await startTestStack();
  const db = stack.database.db;
  await db('container_registries').insert({
    hostname: host,
    url: `http://${host}`,
    username: USER,
    password: 'wrong-password',
  });
  await db('images').insert([
    { name: `${host}/python:t`, registry: host },
    { name: `${host}/python:no-such-tag`, registry: host },
  ]);
  await db('domains')
    .where({ name: 'default' })
    .update({ allowed_registries: db.raw(`allowed_registries || ?::jsonb`, [JSON.stringify([host])]) });
});

test.after.always(async () => {
  await stack?.close();
  if (registry?.pid && registry.exitCode === null) {
    const gone = new Promise((ok) => registry!.once('exit', ok));
    registry.kill('SIGTERM');
    await gone;
  }
  await docker
    ?.getImage(`${host}/python:t`)
    .remove({ force: true })
    .catch(() => {});
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function run(image: string): Promise<Awaited<ReturnType<typeof waitForStatus>>> {
  const { sessionId } = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('test "$(wc -c < /blob)" = 20000000 && echo pulled', { image }),
  );
  return waitForStatus(stack.client, sessionId);
}

test.serial('a wrong password: CANCELLED image-pull-failed with the registry’s message', async (t) => {
  const s = await run(`${host}/python:t`);
  t.is(s.status, 'CANCELLED');
  t.is(s.statusInfo, 'image-pull-failed');
  t.is(s.result, 'FAILURE');
  t.regex(String(s.statusData.error), /unauthorized: authentication required/);
  t.log(s.statusData.error);
  t.false(JSON.stringify(s).includes('wrong-password'), 'credentials never leave the manager');
});

test.serial('an unknown tag: CANCELLED image-pull-failed with the registry’s message', async (t) => {
  await stack.database.db('container_registries').where({ hostname: host }).update({ password: PASSWORD });
  const s = await run(`${host}/python:no-such-tag`);
  t.is(s.status, 'CANCELLED');
  t.is(s.statusInfo, 'image-pull-failed');
  t.regex(String(s.statusData.error), /manifest unknown/);
  t.log(s.statusData.error);
});

test.serial('good credentials: the image is pulled with progress, and runs', async (t) => {
  const s = await run(`${host}/python:t`);
  t.is(s.status, 'TERMINATED', JSON.stringify(s.statusData));
  t.is(s.exitCode, 0);
  t.truthy(s.statusHistory && (s.statusHistory as Record<string, string>).PULLING, 'went through PULLING');
  const pull = s.statusData.pull as { current: number; total: number; percent: number } | undefined;
  t.truthy(pull, 'pull progress in status_data');
  t.true(pull!.total >= 20_000_000, `total ${pull!.total}`);
  t.true(pull!.percent >= 0 && pull!.percent <= 100);
  const logs = await stack.client.request<{ result: { logs: string } }>(
    'GET',
    `/session/${s.sessionId}/logs`,
  );
  t.is(logs.result.logs, 'pulled\n');
});

test.serial('pulls, failed or not, release what they held', async (t) => {
  const redis = openRedis(testEnv().redisUrl);
  try {
    const key = heartbeatKey(stack.prefix, stack.agentConfig(1).id);
    const since = Date.now(); // a heartbeat written during a pull lists no session yet holds slots
    let hb = null as Heartbeat | null;
    await holdsWithin(async () => {
      hb = JSON.parse((await redis.get(key)) ?? 'null') as Heartbeat | null;
      return !!hb && hb.at > since && hb.sessions.length === 0;
    });
    t.deepEqual(hb?.occupied, {});
    t.deepEqual(hb?.sessions, []);
  } finally {
    redis.disconnect();
  }
});
