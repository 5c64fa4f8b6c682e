/**
 * `npm run bench`: brings up its own services the way `npm test` does (PostgreSQL, Redis, a
 * Docker engine, the python image), a manager and an agent as child processes, runs every
 * benchmark against its baseline measured in the same run, prints the table, writes
 * bench/results/latest.json, and stops everything it started, by pid.
 *
 * Knobs (environment): BENCH_ONLY=overhead,drain,starts_at,array,submit (footprint always runs),
 * BENCH_OVERHEAD_SAMPLES (30), BENCH_DRAIN_SESSIONS (200), BENCH_SUBMIT_SECONDS (10),
 * BENCH_ARRAYS (3).
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runArray } from '../bench/array.js';
import { runDrain } from '../bench/drain.js';
import { footprintResult, sampleIdle } from '../bench/footprint.js';
import { runOverhead } from '../bench/overhead.js';
import { CounterMeter } from '../bench/lib/counters.js';
import { formatTable, type BenchResult } from '../bench/lib/result.js';
import { startBenchStack, type BenchStack } from '../bench/lib/stack.js';
import { runStartsAt } from '../bench/starts-at.js';
import { runSubmit } from '../bench/submit.js';
import { sleep } from '../src/stack/process-util.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const env = process.env;
const only = new Set(
  (env.BENCH_ONLY ?? 'overhead,drain,starts_at,array,submit').split(',').map((s) => s.trim()),
);
const t0 = Date.now();
const log = (m: string) => process.stdout.write(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${m}\n`);

let stack: BenchStack | null = null;
let stopping: Promise<void> | null = null;
const stop = () => (stopping ??= stack ? stack.close() : Promise.resolve());
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    log(`${sig}: stopping what the benchmark started`);
    void stop().finally(() => process.exit(130));
  });
}

function gitRev(): string {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  stack = await startBenchStack(log);
  log(`manager pid ${stack.manager.pid} at ${stack.managerUrl}, agent pid ${stack.agent.pid}`);
  await sleep(3_000); // let both settle after start-up before calling them idle
  const background = new CounterMeter(stack);
  await background.begin();
  const idle = await sampleIdle(stack, 5_000);
  const backgroundPerSecond = await background.end(5 + 1.2);
  log(`idle background per second: ${JSON.stringify(backgroundPerSecond)}`);
  const results: BenchResult[] = [];
  let load = { manager: [] as number[], agent: [] as number[] };

  if (only.has('overhead')) {
    results.push(await runOverhead(stack, Number(env.BENCH_OVERHEAD_SAMPLES ?? 30), log));
    log('overhead done');
  }
  if (only.has('drain')) {
    results.push(await runDrain(stack, Number(env.BENCH_DRAIN_SESSIONS ?? 200), 4, log));
    log('drain done');
  }
  if (only.has('starts_at')) {
    results.push(await runStartsAt(stack, 40, 20_000, log));
    log('starts_at done');
  }
  if (only.has('array')) {
    results.push(await runArray(stack, Number(env.BENCH_ARRAYS ?? 3), log));
    log('array done');
  }
  // Last: it leaves thousands of sessions PENDING until tomorrow in the manager's database.
  if (only.has('submit')) {
    const s = await runSubmit(stack, 32, Number(env.BENCH_SUBMIT_SECONDS ?? 10) * 1000, log);
    results.push(s.result);
    load = s.rssUnderLoad;
    log('submit done');
  }
  await sleep(2_000);
  const idleAfter = await sampleIdle(stack);
  results.push(await footprintResult(idle, load, idleAfter));

  const table = formatTable(results);
  process.stdout.write(`\n${table}\n\n`);
  const out = {
    date: new Date().toISOString(),
    git: gitRev(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '',
      memGb: Math.round(totalmem() / 1024 ** 3),
      loadavgBefore: loadBefore,
      loadavgAfter: loadavg(),
    },
    durationS: (Date.now() - t0) / 1000,
    backgroundPerSecond,
    table,
    results,
  };
  mkdirSync(join(root, 'bench/results'), { recursive: true });
  writeFileSync(join(root, 'bench/results/latest.json'), `${JSON.stringify(out, null, 2)}\n`);
  log(`wrote bench/results/latest.json`);
}

main()
  .then(async () => {
    await stop();
    log('stopped');
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    process.stderr.write(`bench failed: ${String((err as Error)?.stack ?? err)}\n`);
    await stop();
    process.exit(1);
  });
