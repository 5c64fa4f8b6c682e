/**
 * `npm test`: starts the real services the tests need (PostgreSQL server, Redis, a Docker
 * engine of our own, the python image), runs ava with their addresses in the environment, and
 * stops everything it started, by pid, whatever the outcome.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDockerd, startPostgres, startRedis, type Service } from '../src/stack/services.js';
import { ensurePythonImage } from '../src/stack/python-image.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const started: Service[] = [];
const base = mkdtempSync(join(tmpdir(), 'bai-t-'));
chmodSync(base, 0o755); // PostgreSQL runs as its own user and must reach its folder

async function stopAll(): Promise<void> {
  for (const s of started.reverse()) {
    try {
      await s.stop();
    } catch (err) {
      process.stderr.write(`stopping ${s.name}: ${String(err)}\n`);
    }
  }
  rmSync(base, { recursive: true, force: true });
}

async function main(): Promise<number> {
  const t0 = Date.now();
  // Started side by side; whatever did start is stopped even when another one failed.
  const results = await Promise.allSettled([
    startPostgres(join(base, 'pg')),
    startRedis(join(base, 'redis')),
    startDockerd(join(base, 'd')),
  ]);
  for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  const [pg, redis, docker] = started as [Service, Service, Service];
  ensurePythonImage(docker.url, (m) => process.stdout.write(`${m}\n`));
  process.stdout.write(
    `services ready in ${Date.now() - t0} ms: postgres ${pg.url}, redis ${redis.url}, docker ${docker.url}\n`,
  );
  const args = process.argv.slice(2);
  const code = await new Promise<number>((resolveCode) => {
    const child = spawn(join(root, 'node_modules/.bin/ava'), args, {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        BAI_TEST_DATABASE_URL: pg.url,
        BAI_TEST_REDIS_URL: redis.url,
        BAI_TEST_DOCKER_HOST: docker.url,
        BAI_TEST_TMP: base,
      },
    });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (c, sig) => resolveCode(c ?? (sig ? 1 : 0)));
  });
  return code;
}

main()
  .then(async (code) => {
    await stopAll();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    process.stderr.write(`test run failed: ${String((err as Error)?.stack ?? err)}\n`);
    await stopAll();
    process.exit(1);
  });
