import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'ava';
import { holdsWithin } from '../helpers/eventually.js';
import { clientOf, type ApiClient } from '../../src/cli/client.js';
import { loadManagerConfig } from '../../src/config/config.js';
import { openDb } from '../../src/persistence/db.js';
import { seedDefaults, type SeedResult } from '../../src/persistence/seed.js';
import { startPostgres, type PostgresService } from '../../src/stack/services.js';
import { startManager, type RunningManager } from '../../src/workers/manager/manager-process.js';
import { call, slugOf } from '../helpers/api.js';
import { baiWithEnv } from '../helpers/cli.js';
import { testEnv } from '../helpers/env.js';

// A PostgreSQL server of this test's own, stopped and started again under a running manager.
let pg: PostgresService;
let manager: RunningManager;
let admin: SeedResult;
let client: ApiClient;
const unavailable: string[] = [];

test.before(async () => {
  const env = testEnv();
  const id = randomBytes(4).toString('hex');
  const dir = join(env.tmp, `pg-down-${id}`);
  pg = await startPostgres(join(dir, 'pg'));
  const seedDb = openDb(pg.url, { min: 0, max: 1 });
  const stateDir = join(dir, 'state');
  mkdirSync(stateDir, { recursive: true });
  manager = await startManager(
    {
      ...loadManagerConfig({}),
      databaseUrl: pg.url,
      redisUrl: env.redisUrl,
      queuePrefix: `bai-${id}`,
      port: 0,
      stateDir,
    },
    {
      info() {},
      error(msg, extra) {
        if (msg === 'request failed: database unavailable') unavailable.push(String(extra?.path));
      },
    },
  );
  admin = await seedDefaults(seedDb);
  await seedDb.destroy();
  client = clientOf(manager.url, { accessKey: admin.accessKey, secretKey: admin.secretKey });
});

test.after.always(async () => {
  await pg?.resume().catch(() => {}); // a failed test may leave it halted: the manager closes cleanly
  await manager?.close();
  await pg?.stop();
});

test.serial(
  'PostgreSQL down: 503 database-unavailable with Retry-After; back up: calls work again',
  async (t) => {
    t.is((await call(client, 'GET', '/keypairs')).status, 200);

    await pg.halt();
    for (const [method, path, body] of [
      ['GET', '/keypairs', undefined],
      ['POST', '/session', { image: 'python', type: 'batch', startupCommand: 'true', enqueueOnly: true }],
    ] as const) {
      const r = await call(client, method, path, body);
      t.is(r.status, 503, `${method} ${path}`);
      t.is(slugOf(r), 'database-unavailable');
      t.regex(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
      t.regex(r.headers.get('retry-after') ?? '', /^\d+$/);
      t.true(Number(r.headers.get('retry-after')) >= 1);
    }

    await pg.resume();
    // The pool drops connections the shutdown cut and opens new ones: within a few attempts.
    let status = 0;
    await holdsWithin(async () => (status = (await call(client, 'GET', '/keypairs')).status) === 200, {
      intervalMs: 200,
    });
    t.is(status, 200);
    const created = await call<{ sessionId: string }>(client, 'POST', '/session', {
      image: 'python',
      type: 'batch',
      startupCommand: 'true',
      enqueueOnly: true,
    });
    t.is(created.status, 201);
  },
);

test.serial('the CLI retries a GET through an outage and succeeds once PostgreSQL is back', async (t) => {
  const env = {
    PATH: process.env.PATH,
    BACKEND_ENDPOINT: manager.url,
    BACKEND_ACCESS_KEY: admin.accessKey,
    BACKEND_SECRET_KEY: admin.secretKey,
    BAI_STATE_DIR: join(testEnv().tmp, `cli-${randomBytes(4).toString('hex')}`),
    BAI_RETRIES: '30', // generous: the restart below can take seconds on a loaded machine
  };
  await pg.halt();
  const seen = unavailable.length;
  const cli = baiWithEnv(env, ['admin', 'keypair', 'list', '--json']);
  // Only once the CLI has been answered 503 at least once does PostgreSQL come back.
  await holdsWithin(() => unavailable.slice(seen).includes('/keypairs'), { intervalMs: 50 });
  t.true(
    unavailable.slice(seen).includes('/keypairs'),
    'the CLI was answered 503 while the database was down',
  );
  await pg.resume();
  const r = await cli;
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /Retrying GET \/keypairs in [\d.]+ s \(HTTP 503 database-unavailable; 1 of 30\)/);
  const list = JSON.parse(r.stdout) as unknown;
  t.truthy(list);

  // A POST is not retried: it fails at once, saying why.
  await pg.halt();
  const post = await baiWithEnv(env, [
    'session',
    'create',
    '--type',
    'batch',
    '-c',
    'true',
    '--enqueue-only',
    'python',
  ]);
  await pg.resume();
  t.is(post.code, 1);
  t.regex(post.stderr, /database-unavailable/);
  t.notRegex(post.stderr, /Retrying/);
});
