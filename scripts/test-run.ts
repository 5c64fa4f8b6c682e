/**
 * `npm test`: starts the real services the tests need (PostgreSQL server, Redis, a Docker
 * engine of our own, the python image: see src/stack/service-set.ts), runs ava with their
 * addresses in the environment, and stops everything it started, by pid, whatever the outcome.
 */
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServiceSet, type ServiceSet } from '../src/stack/service-set.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const log = (m: string) => process.stdout.write(`${m}\n`);
let services: ServiceSet | null = null;

async function main(): Promise<number> {
  services = await startServiceSet('bai-t-', log);
  const { pg, redis, docker, base } = services;
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
    await services?.stop();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    // startServiceSet stopped what it had started before it threw.
    process.stderr.write(`test run failed: ${String((err as Error)?.stack ?? err)}\n`);
    await services?.stop();
    process.exit(1);
  });
