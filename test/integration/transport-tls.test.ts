import test from 'ava';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadManagerConfig } from '../../src/config/config.js';
import { openDb } from '../../src/persistence/db.js';
import { openRedis } from '../../src/queue/redis.js';
import { startPostgres, startRedis, type Service } from '../../src/stack/services.js';
import { testEnv } from '../helpers/env.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';
import { makeCerts, type TestCerts } from '../helpers/tls.js';

/**
 * Encrypted transport: the whole flow over `rediss://` (a Redis with no plain port) and a
 * PostgreSQL that accepts TCP clients only over TLS, reached with sslmode=verify-full; the
 * certificates are made by the test. A client that does not trust the CA is refused.
 */

let dir = '';
let certs: TestCerts;
let otherCa: TestCerts;
let pg: Service;
let redis: Service;
let stack: TestStack;
let databaseServerUrl = '';

test.before(async () => {
  dir = join(testEnv().tmp, `tls-${randomBytes(4).toString('hex')}`);
  certs = makeCerts(join(dir, 'certs'));
  otherCa = makeCerts(join(dir, 'other'), 'someone else');
  const [p, r] = await Promise.all([
    startPostgres(join(dir, 'pg'), { tls: { certFile: certs.certFile, keyFile: certs.keyFile } }),
    startRedis(join(dir, 'redis'), { tls: certs }),
  ]);
  pg = p;
  redis = r;
  // As an operator configures it: the CA files through the environment.
  const cfg = loadManagerConfig({
    DATABASE_URL: `${pg.url}?sslmode=verify-full`,
    BAI_DATABASE_CA_FILE: certs.caFile,
    REDIS_URL: redis.url,
    BAI_REDIS_CA_FILE: certs.caFile,
  });
  databaseServerUrl = cfg.databaseUrl!;
  stack = await startTestStack({
    databaseServerUrl,
    redisUrl: cfg.redisUrl,
    manager: { redisCaFile: cfg.redisCaFile },
    agent: { redisCaFile: cfg.redisCaFile },
  });
});

test.after.always(async () => {
  await stack?.close();
  await redis?.stop();
  await pg?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('submit → run hello → SUCCESS over rediss:// and PostgreSQL verify-full', async (t) => {
  t.true(redis.url.startsWith('rediss://'));
  t.regex(stack.database.url, /sslmode=verify-full/);
  const { sessionId } = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('echo hello over TLS'),
  );
  const s = await waitForStatus(stack.client, sessionId);
  t.is(s.status, 'TERMINATED');
  t.is(s.result, 'SUCCESS');
  const logs = await stack.client.request<{ result: { logs: string } }>('GET', `/session/${sessionId}/logs`);
  t.is(logs.result.logs, 'hello over TLS\n');

  // Every TCP connection the manager holds to its database is encrypted.
  const name = stack.database.url.replace(/^.*\/([^/?]+)(\?.*)?$/, '$1');
  const rows = (await stack.database.db.raw(
    `SELECT s.ssl, count(*)::int AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
      WHERE a.datname = ? AND a.client_addr IS NOT NULL GROUP BY s.ssl`,
    [name],
  )) as { rows: { ssl: boolean; n: number }[] };
  t.deepEqual(
    rows.rows.map((r) => r.ssl),
    [true],
  );
});

test.serial('a client that does not trust the CA, or does not ask for TLS, is refused', async (t) => {
  const probe = async (url: string, caFile: string | null): Promise<string> => {
    const r = openRedis(url, {
      caFile,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      lazyConnect: true,
    });
    const seen: string[] = []; // the TLS failure itself arrives as an 'error' event
    r.on('error', (err) => seen.push(String(err)));
    try {
      await r.connect();
      return String(await r.ping());
    } catch (err) {
      return `refused: ${String(err)} ${seen.join('; ')}`;
    } finally {
      r.disconnect();
    }
  };
  t.is(await probe(redis.url, certs.caFile), 'PONG');
  t.regex(await probe(redis.url, otherCa.caFile), /^refused: .*(certificate|self.signed)/i);
  t.regex(await probe(redis.url.replace('rediss://', 'redis://'), null), /^refused/);

  const pgProbe = async (url: string): Promise<string> => {
    const db = openDb(url, { min: 0, max: 1 }, { warn() {}, error() {}, debug() {}, deprecate() {} });
    try {
      const r = (await db.raw('SELECT 1 AS one')) as { rows: { one: number }[] };
      return String(r.rows[0]?.one);
    } catch (err) {
      return `refused: ${String(err)}`;
    } finally {
      await db.destroy();
    }
  };
  t.is(await pgProbe(databaseServerUrl), '1');
  t.regex(
    await pgProbe(
      databaseServerUrl.replace(encodeURIComponent(certs.caFile), encodeURIComponent(otherCa.caFile)),
    ),
    /^refused: .*(certificate|self.signed)/i,
  );
  t.regex(await pgProbe(pg.url), /^refused: .*(no encryption|pg_hba)/);
});
