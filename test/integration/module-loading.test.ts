import test from 'ava';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { clientOf } from '../../src/cli/client.js';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { freePort } from '../../src/stack/ports.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { testEnv } from '../helpers/env.js';
import { ChildBai, managerEnv, ROOT } from '../helpers/faults.js';
import { newSpaceBytesIn, packagesIn, traceNodeOptions } from '../helpers/module-trace.js';
import { batch, removeContainers, waitForStatus } from '../helpers/stack.js';

/**
 * Each process loads only the libraries it uses (docs/benchmarks.md, "Round two: CLI start and
 * footprint"): a manager and an agent run a session as child processes of `bin/bai.js`, and
 * `bai --version` and `bai session info` run against them, each with a loader hook that writes
 * every module it loaded (test/helpers/module-trace.ts).
 */
const id = randomBytes(4).toString('hex');
const env = testEnv();
const dir = join(env.tmp, `modules-${id}`);
let database: TestDatabase;
const children: ChildBai[] = [];

const traced = (name: string) => {
  const out = join(dir, `${name}.trace`);
  writeFileSync(out, '');
  return {
    out,
    env: {
      BAI_MODULE_TRACE: out,
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${traceNodeOptions()}`.trim(),
    },
  };
};
const packages = (out: string) => packagesIn(readFileSync(out, 'utf8'));

test.before(async () => {
  mkdirSync(dir, { recursive: true });
  database = await createTestDatabase();
});
test.after.always(async () => {
  for (const c of children) await c.stop();
  await removeContainers(env.dockerHost, id);
  await database?.drop();
});

test('the agent loads neither Koa, knex nor PGlite; the manager no dockerode; the CLI none of them', async (t) => {
  t.timeout(300_000);
  const prefix = `bai-${id}`;
  const m = traced('manager');
  const manager = new ChildBai(['manager'], {
    ...managerEnv({
      databaseUrl: database.url,
      redisUrl: env.redisUrl,
      prefix,
      port: await freePort(),
      stateDir: join(dir, 'manager'),
    }),
    ...m.env,
  });
  children.push(manager);
  const url = await manager.ready();
  const a = traced('agent');
  const agent = new ChildBai(['agent'], {
    BAI_AGENT_ID: `t${id}-a1`,
    REDIS_URL: env.redisUrl,
    BAI_QUEUE_PREFIX: prefix,
    DOCKER_HOST: env.dockerHost,
    BAI_AGENT_NETWORK_MODE: 'default',
    BAI_STORAGE_ROOT: join(dir, 'storage'),
    BAI_AGENT_CPU: '4',
    BAI_AGENT_MEM: String(4 * 1024 ** 3),
    BAI_HEARTBEAT_MS: '500',
    BAI_STATE_DIR: join(dir, 'agent'),
    ...a.env,
  });
  children.push(agent);
  await agent.ready();

  // A session from submit to its end, so that what loads on first use has loaded.
  const keys = { accessKey: database.admin.accessKey, secretKey: database.admin.secretKey };
  const client = clientOf(url, keys);
  const created = await client.request<{ sessionId: string }>('POST', '/session', batch('echo hi'));
  const ended: SessionWire = await waitForStatus(client, created.sessionId);
  t.is(ended.result, 'SUCCESS');

  const cli = async (name: string, args: string[]) => {
    const c = traced(name);
    const r = await promisify(execFile)(process.execPath, [join(ROOT, 'bin/bai.js'), ...args], {
      env: {
        PATH: process.env.PATH,
        BACKEND_ENDPOINT: url,
        BACKEND_ACCESS_KEY: keys.accessKey,
        BACKEND_SECRET_KEY: keys.secretKey,
        BAI_STATE_DIR: join(dir, 'cli'),
        ...c.env,
      },
    });
    return { stdout: r.stdout, loaded: packages(c.out), trace: readFileSync(c.out, 'utf8') };
  };
  const version = await cli('version', ['--version']);
  t.regex(version.stdout, /^\d+\.\d+\.\d+/);
  const info = await cli('info', ['session', 'info', created.sessionId, '--json']);
  t.is((JSON.parse(info.stdout) as SessionWire).sessionId, created.sessionId);

  await manager.stop();
  await agent.stop();
  const managerLoaded = packages(m.out);
  const agentLoaded = packages(a.out);
  // The trace sees what each process does use (else an empty trace would pass what follows).
  for (const p of ['koa', 'knex', 'pg', 'bullmq']) t.true(managerLoaded.includes(p), `manager loaded ${p}`);
  for (const p of ['ioredis', 'bullmq']) t.true(agentLoaded.includes(p), `agent loaded ${p}`);
  // Its image was there: the agent loads dockerode only to pull one.
  t.false(agentLoaded.includes('dockerode'), 'agent loaded dockerode without a pull');
  // The CLI runs from its bundle (scripts/bundle-cli.ts), clipanion inside it: one file of
  // bai's, none of dist/src/cli/ or clipanion's own.
  t.regex(info.trace, /\/dist\/src\/cli-bundle\/main\.cjs$/m, 'bai session info ran from the bundle');
  t.notRegex(info.trace, /\/dist\/src\/cli\//, 'bai session info loaded no unbundled CLI module');
  t.false(info.loaded.includes('clipanion'), 'clipanion is in the bundle');

  const none = (loaded: string[], banned: string[]) => loaded.filter((p) => banned.includes(p));
  t.deepEqual(none(agentLoaded, ['koa', '@koa/router', 'knex', 'pg', '@electric-sql/pglite']), [], 'agent');
  t.deepEqual(
    none(managerLoaded, ['dockerode', 'docker-modem', '@electric-sql/pglite', 'yaml']),
    [],
    'manager',
  );
  const cliBanned = ['bullmq', 'ioredis', 'knex', 'pg', '@electric-sql/pglite', 'dockerode', 'koa'];
  t.deepEqual(none(version.loaded, cliBanned), [], 'bai --version');
  t.false(version.loaded.includes('clipanion'), 'bai --version answers without the CLI');
  t.deepEqual(none(info.loaded, cliBanned), [], 'bai session info');

  // bin/bai.js keeps the young generation of both at its initial 1 MB semi-spaces (V8 reports 1
  // or 2 MB; by default it grows past 8 MB during start-up, up to 2 × 16 MB): docs/benchmarks.md,
  // "Round three: footprint".
  for (const [who, trace] of [
    ['manager', m.out],
    ['agent', a.out],
  ] as const) {
    const young = newSpaceBytesIn(readFileSync(trace, 'utf8'));
    t.true(young > 0 && young <= 4 * 1024 ** 2, `${who}'s new space: ${young} bytes`);
  }
});
