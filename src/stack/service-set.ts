import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePythonImage } from './python-image.js';
import { startDockerd, startPostgres, startRedis, type PostgresOptions, type Service } from './services.js';

/**
 * The services the tests and the benchmarks run against, started the same way for both: a
 * PostgreSQL server, Redis and a Docker engine of their own under one temporary folder, and the
 * python image in that engine. `stop()` stops, by pid, whatever did start (also when another
 * part failed to) and removes the folder.
 */
export interface ServiceSet {
  /** The temporary folder everything lives under. */
  base: string;
  pg: Service;
  redis: Service;
  docker: Service;
  stop(): Promise<void>;
}

export async function startServiceSet(
  prefix: string,
  log: (msg: string) => void,
  pgOptions: PostgresOptions = {},
): Promise<ServiceSet> {
  const base = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(base, 0o755); // PostgreSQL runs as its own user and must reach its folder
  const started: Service[] = [];
  const stop = async () => {
    for (const s of started.reverse()) {
      try {
        await s.stop();
      } catch (err) {
        log(`stopping ${s.name}: ${String(err)}`);
      }
    }
    rmSync(base, { recursive: true, force: true });
  };
  const t0 = Date.now();
  // Started side by side; whatever did start is stopped even when another one failed.
  const results = await Promise.allSettled([
    startPostgres(join(base, 'pg'), pgOptions),
    startRedis(join(base, 'redis')),
    startDockerd(join(base, 'd')),
  ]);
  for (const r of results) if (r.status === 'fulfilled') started.push(r.value);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  try {
    if (failed) throw failed.reason;
    const [pg, redis, docker] = started as [Service, Service, Service];
    ensurePythonImage(docker.url, log);
    log(
      `services ready in ${Date.now() - t0} ms: postgres ${pg.url}, redis ${redis.url}, docker ${docker.url}`,
    );
    return { base, pg, redis, docker, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
