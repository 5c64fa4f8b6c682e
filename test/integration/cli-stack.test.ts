import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, stopPid } from '../../src/stack/process-util.js';
import { freePort } from '../../src/stack/ports.js';
import { baiWithEnv } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/database.js';
import { testEnv } from '../helpers/env.js';
import { removeContainers } from '../helpers/stack.js';

// `bai up | status | down` and `bai db migrate | seed`, as a user runs them.

const env = testEnv();
const id = randomBytes(4).toString('hex');
const stateDir = mkdtempSync(join(env.tmp, 'up-'));
let startedPids: number[] = [];

test.after.always(async () => {
  for (const pid of startedPids) await stopPid(pid, 5_000);
  await removeContainers(env.dockerHost, id);
  rmSync(stateDir, { recursive: true, force: true });
});

const json = <T>(s: string): T => JSON.parse(s) as T;

test.serial(
  'bai up starts a manager (embedded PostgreSQL) and an agent; bai run uses its .bai/env; bai down stops them',
  async (t) => {
    const base = { PATH: process.env.PATH, BAI_STATE_DIR: stateDir };
    const upEnv = {
      ...base,
      REDIS_URL: env.redisUrl,
      DOCKER_HOST: env.dockerHost,
      BAI_MANAGER_PORT: String(await freePort()),
      BAI_QUEUE_PREFIX: `bai-up-${id}`,
      BAI_AGENT_ID: `t${id}-up`,
      BAI_AGENT_NETWORK_MODE: 'default',
      BAI_AGENT_CPU: '2',
      BAI_AGENT_MEM: String(2 * 1024 ** 3),
    };
    const up = await baiWithEnv(upEnv, ['up', '--json']);
    const st = json<{
      endpoint: string;
      accessKey: string;
      pids: { name: string; pid: number }[];
      envFile: string;
    }>(up.stdout || '{"pids": []}');
    startedPids = st.pids.map((p) => p.pid);
    t.is(up.code, 0, up.stderr + readLogs());
    t.deepEqual(st.pids.map((p) => p.name).sort(), ['agent', 'manager']); // Redis and Docker were given
    t.true(existsSync(st.envFile));
    t.regex(readFileSync(st.envFile, 'utf8'), new RegExp(`BACKEND_ACCESS_KEY='?${st.accessKey}`));

    const status = await baiWithEnv(base, ['status', '--json']);
    t.is(status.code, 0);
    t.deepEqual(json<{ alive: Record<string, boolean> }>(status.stdout).alive, {
      manager: true,
      agent: true,
    });
    const human = await baiWithEnv(base, ['status']);
    t.regex(
      human.stdout,
      /^endpoint http:\/\/127\.0\.0\.1:\d+\nPROCESS +PID +STATE\nmanager +\d+ +running\nagent +\d+ +running\n$/,
    );

    // No BACKEND_* in the environment: the CLI finds the endpoint and keys in .bai/env.
    const run = await baiWithEnv(base, ['run', '-c', 'print(6 * 7)', 'python']);
    t.is(run.code, 0, run.stderr + readLogs());
    t.is(run.stdout, '42\n');

    const again = await baiWithEnv(upEnv, ['up']);
    t.is(again.code, 0);
    t.regex(again.stdout, /already up/);

    const down = await baiWithEnv(base, ['down', '--json']);
    t.is(down.code, 0, down.stderr);
    const stopped = json<{ stopped: { name: string; pid: number }[] }>(down.stdout).stopped;
    t.deepEqual(stopped.map((p) => p.pid).sort(), [...startedPids].sort());
    for (const pid of startedPids) t.false(isAlive(pid), `pid ${pid} still runs`);

    const after = await baiWithEnv(base, ['status', '--json']);
    t.is(after.code, 1);
    t.deepEqual(json<{ pids: unknown[] }>(after.stdout).pids, []);
    const nothing = await baiWithEnv(base, ['down']);
    t.is(nothing.code, 0);
  },
);

test.serial('bai db migrate and db seed on a PostgreSQL server (DATABASE_URL)', async (t) => {
  const database = await createTestDatabase({ migrate: false });
  try {
    const e = { PATH: process.env.PATH, DATABASE_URL: database.url, BAI_STATE_DIR: stateDir };
    const first = await baiWithEnv(e, ['db', 'migrate', '--json']);
    t.is(first.code, 0, first.stderr);
    const applied = json<{ applied: string[] }>(first.stdout).applied;
    t.true(applied.length > 0);
    const again = await baiWithEnv(e, ['db', 'migrate']);
    t.is(again.stdout, 'already up to date\n');

    const seed = await baiWithEnv(e, ['db', 'seed', '--json']);
    t.is(seed.code, 0, seed.stderr);
    const keys = json<{ accessKey: string; secretKey: string; created: boolean }>(seed.stdout);
    t.true(keys.created);
    const seed2 = json<{ accessKey: string; created: boolean }>(
      (await baiWithEnv(e, ['db', 'seed', '--json'])).stdout,
    );
    t.is(seed2.accessKey, keys.accessKey);
    t.false(seed2.created);
    const human = await baiWithEnv(e, ['db', 'seed']);
    t.is(human.stdout, `admin access key: ${keys.accessKey}\nadmin secret key: ${keys.secretKey}\n`);

    const down = await baiWithEnv(e, ['db', 'migrate', '--rollback-all', '--json']);
    t.deepEqual(json(down.stdout), { rolledBack: true });
    const tables = await database.db.raw(
      `SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename = 'sessions'`,
    );
    t.is((tables.rows as { n: number }[])[0]!.n, 0);

    const unreachable = await baiWithEnv(
      { ...e, DATABASE_URL: `postgres://postgres@127.0.0.1:${await freePort()}/x` },
      ['db', 'migrate'],
    );
    t.is(unreachable.code, 1);
    t.regex(unreachable.stderr, /^Error: [^\n]*ECONNREFUSED[^\n]*\n$/); // one line, no stack
  } finally {
    await database.drop();
  }
});

function readLogs(): string {
  return ['manager.log', 'agent.log']
    .map((f) => join(stateDir, f))
    .filter((f) => existsSync(f))
    .map((f) => `\n--- ${f}\n${readFileSync(f, 'utf8').slice(-3000)}`)
    .join('');
}
