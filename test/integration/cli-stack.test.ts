import test from 'ava';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { identityOf } from '../../src/stack/process-identity.js';
import { stackDown } from '../../src/cli/local-stack.js';
import { freePort } from '../../src/stack/ports.js';
import { baiWithEnv } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/database.js';
import { testEnv } from '../helpers/env.js';
import { localStackEnv, pidsOf, stackLogs, type StatusJson, type UpJson } from '../helpers/local-stack.js';
import { removeContainers } from '../helpers/stack.js';

// `bai up | status | down | stack logs` and `bai db migrate | seed`, as a user runs them.

const env = testEnv();
const id = randomBytes(4).toString('hex');
const stateDir = mkdtempSync(join(env.tmp, 'up-'));
let startedPids: number[] = [];

test.after.always(async () => {
  // Stopped as bai down stops them: only while each pid is still the process bai up started.
  await stackDown(stateDir, () => {}).catch(() => {});
  await removeContainers(env.dockerHost, id);
  rmSync(stateDir, { recursive: true, force: true });
});

const json = <T>(s: string): T => JSON.parse(s) as T;

test.serial(
  'up → run → up (a no-op) → down → up → run → down: the same keys, the first session still listed, pids proven',
  async (t) => {
    t.timeout(600_000); // generous: three bai up and two runs on a shared, slow machine
    const base = { PATH: process.env.PATH, BAI_STATE_DIR: stateDir };
    const upEnv = await localStackEnv(env, stateDir, id);
    const up = await baiWithEnv(upEnv, ['up', '--json']);
    t.is(up.code, 0, up.stderr + stackLogs(stateDir));
    const st = json<UpJson>(up.stdout);
    startedPids = st.parts.flatMap((p) => (p.pid === null ? [] : [p.pid]));
    t.false(st.alreadyUp);
    t.deepEqual(
      st.parts.map((p) => [p.name, p.action]),
      [
        ['redis', 'started'],
        ['docker', 'external'], // DOCKER_HOST was given
        ['manager', 'started'],
        ['agent', 'started'],
      ],
    );
    t.regex(readFileSync(st.envFile, 'utf8'), new RegExp(`BACKEND_ACCESS_KEY='?${st.accessKey}`));

    const status = await baiWithEnv(base, ['status', '--json']);
    t.is(status.code, 0, status.stdout);
    const s1 = json<StatusJson>(status.stdout);
    t.true(s1.up);
    t.is(s1.urls.manager, st.endpoint);
    t.deepEqual(
      s1.parts.map((p) => [p.name, p.answers]),
      ['manager', 'agent', 'redis', 'database', 'docker'].map((n) => [n, true]),
    );
    t.deepEqual(pidsOf(s1.parts), { ...pidsOf(st.parts), database: pidsOf(st.parts).manager });
    const human = await baiWithEnv(base, ['status']);
    t.regex(human.stdout, /^PART +STATE +PID +UPTIME +ADDRESS\nmanager +answers +\d+ +\d+[smhd]/);
    t.regex(human.stdout, /\ndatabase +answers +\d+ +\S+ +embedded PGlite in \S+pgdata\n/);
    t.regex(human.stdout, /\nmanager URL: http:\/\/127\.0\.0\.1:\d+\n/);
    // The console's URL, and where the database and Redis are; the console answers there.
    t.is(s1.urls.console, `${st.endpoint}/console`);
    t.regex(human.stdout, /\nconsole URL: http:\/\/127\.0\.0\.1:\d+\/console /);
    t.regex(human.stdout, /\ndatabase: embedded PGlite in \S+pgdata\n/);
    t.regex(human.stdout, /\nredis: redis:\/\/127\.0\.0\.1:\d+\n/);
    t.is((await fetch(`${s1.urls.console}/login`)).status, 200);

    // No BACKEND_* in the environment: the CLI finds the endpoint and keys in .bai/env.
    const run1 = await baiWithEnv(base, ['run', '--timeout', '240', '-c', 'print("hello")', 'python']);
    t.is(run1.code, 0, run1.stderr + stackLogs(stateDir));
    t.is(run1.stdout, 'hello\n');
    const sessions1 = json<{ items: { sessionId: string }[] }>(
      (await baiWithEnv(base, ['ps', '-a', '--json'])).stdout,
    ).items.map((x) => x.sessionId);
    t.is(sessions1.length, 1);

    // A second up changes nothing and says so.
    const again = await baiWithEnv(upEnv, ['up']);
    t.is(again.code, 0, again.stderr);
    t.regex(again.stdout, /already up at http:\/\/127\.0\.0\.1:\d+: nothing to start/);
    t.regex(again.stdout, /manager: adopted \(pid \d+\)/);
    t.false(again.stdout.includes(st.secretKey), 'the secret key is printed once, when it is made');
    const againJson = json<UpJson>((await baiWithEnv(upEnv, ['up', '--json'])).stdout);
    t.true(againJson.alreadyUp);
    t.deepEqual(pidsOf(againJson.parts), pidsOf(st.parts));

    // The service logs are one command away.
    const logs = await baiWithEnv(base, ['stack', 'logs', 'agent', '-n', 'all']);
    t.is(logs.code, 0, logs.stderr);
    t.true(logs.stdout.includes('{"ready":true}'));

    const down = await baiWithEnv(base, ['down', '--json']);
    t.is(down.code, 0, down.stderr);
    const stopped = json<{ stopped: { name: string; pid: number }[] }>(down.stdout).stopped;
    t.deepEqual(
      stopped.map((p) => p.name),
      ['agent', 'manager', 'redis'],
    );
    t.deepEqual(stopped.map((p) => p.pid).sort(), [...startedPids].sort());
    for (const pid of startedPids) t.is(identityOf(pid), null, `pid ${pid} still runs`);
    const after = await baiWithEnv(base, ['status', '--json']);
    t.is(after.code, 1);
    t.false(json<StatusJson>(after.stdout).up);
    const nothing = await baiWithEnv(base, ['down']);
    t.is(nothing.code, 0);
    t.is(nothing.stdout, 'Nothing to stop.\n');

    // Up again: everything starts anew (nothing is taken for running), on the same data.
    const up2 = await baiWithEnv(upEnv, ['up', '--json']);
    t.is(up2.code, 0, up2.stderr + stackLogs(stateDir));
    const st2 = json<UpJson>(up2.stdout);
    startedPids = st2.parts.flatMap((p) => (p.pid === null ? [] : [p.pid]));
    t.false(st2.alreadyUp);
    t.deepEqual(
      st2.parts.filter((p) => p.pid !== null).map((p) => p.action),
      ['started', 'started', 'started'],
    );
    t.is(st2.accessKey, st.accessKey);
    t.is(st2.secretKey, st.secretKey);
    t.is(st2.endpoint, st.endpoint);
    const run2 = await baiWithEnv(base, ['run', '--timeout', '240', '-c', 'print("hello")', 'python']);
    t.is(run2.code, 0, run2.stderr + stackLogs(stateDir));
    t.is(run2.stdout, 'hello\n');
    const sessions2 = json<{ items: { sessionId: string }[] }>(
      (await baiWithEnv(base, ['ps', '-a', '--json'])).stdout,
    ).items.map((x) => x.sessionId);
    t.is(sessions2.length, 2);
    t.true(sessions2.includes(sessions1[0]!), 'the first session is still listed');

    const down2 = await baiWithEnv(base, ['down', '--json']);
    t.is(down2.code, 0, down2.stderr);
    for (const pid of startedPids) t.is(identityOf(pid), null, `pid ${pid} still runs`);

    // bai reset throws the state away on purpose, saying what it removes.
    const reset = await baiWithEnv(base, ['reset']);
    t.is(reset.code, 0, reset.stderr);
    t.regex(
      reset.stdout,
      /^removing \S+\/pgdata \(the embedded database: sessions, their history, keypairs\)\n/,
    );
    t.regex(reset.stdout, /\nremoving \S+\/env \(the admin keys the CLI reads\)\n/);
    for (const entry of ['pgdata', 'env', 'redis', 'manager.log', 'stack.json'])
      t.false(existsSync(join(stateDir, entry)), entry);
    const logs2 = await baiWithEnv(base, ['stack', 'logs', 'manager']);
    t.is(logs2.code, 1);
    t.regex(logs2.stderr, /no manager log at /);
    t.is((await baiWithEnv(base, ['stack', 'logs', 'postgres'])).code, 2);
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
