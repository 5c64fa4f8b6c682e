/**
 * `npm run bench`: brings up its own services the way `npm test` does (PostgreSQL, Redis, a
 * Docker engine, the python image), a manager and an agent as child processes, runs every
 * benchmark against its baseline measured in the same run, prints the table, writes
 * bench/results/latest.json, and stops everything it started, by pid.
 *
 * Knobs (environment): BENCH_ONLY=overhead,drain,logs,starts_at,array,scale-out,cli,history,submit
 * (footprint always runs; barrier_wake, the start barrier's wake alone, engine_calls, what
 * bai's calls and container settings cost the engine, and backlog, a drain past sessions
 * waiting that the statistics have not seen, only when named),
 * BENCH_OVERHEAD_SAMPLES (30), BENCH_DRAIN_SESSIONS (200), BENCH_SUBMIT_SECONDS (10),
 * BENCH_ARRAYS (3), BENCH_LOGS_SECONDS (8, how long the job prints), BENCH_LOGS_LOAD (100, the
 * drain beside it), BENCH_SCALE_SIZES (1,2,4 agents), BENCH_SCALE_SESSIONS (60 per size),
 * BENCH_CLI_RUNS (21), BENCH_WAKE_PAIRS (20), BENCH_ENGINE_CALLS (10 containers a variant a
 * round), BENCH_BACKLOG_DRAIN (100), BENCH_BACKLOG_WAITING (5,000) and BENCH_BACKLOG_KIND
 * (unplaceable; gated, dependent, later), for history (a
 * million sessions loaded, overhead and drain again): BENCH_HISTORY_SESSIONS (1,000,000), BENCH_HISTORY_SAMPLES (20), BENCH_HISTORY_DRAIN (100).
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runArray } from '../bench/array.js';
import { BACKLOG_KINDS, runBacklog, type BacklogKind } from '../bench/backlog.js';
import { runBarrierWake } from '../bench/barrier-wake.js';
import { runCliBench } from '../bench/cli.js';
import { runDrain } from '../bench/drain.js';
import { runEngineCalls } from '../bench/engine-calls.js';
import { runLogs } from '../bench/logs.js';
import { runScaleOut } from '../bench/scale-out.js';
import { runHistory } from '../bench/history.js';
import { footprintResult, sampleIdle, settleAfterLoad } from '../bench/footprint.js';
import { runOverhead } from '../bench/overhead.js';
import { CounterMeter } from '../bench/lib/counters.js';
import { collectSummary, formatSummary, formatTable, type BenchResult } from '../bench/lib/result.js';
import { startBenchStack, type BenchStack } from '../bench/lib/stack.js';
import { runStartsAt } from '../bench/starts-at.js';
import { runSubmit } from '../bench/submit.js';
import { sleep } from '../src/stack/process-util.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const env = process.env;
const only = new Set(
  (env.BENCH_ONLY ?? 'overhead,drain,logs,starts_at,array,scale-out,cli,history,submit')
    .split(',')
    .map((s) => s.trim()),
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

/** BENCH_BACKLOG_KIND, checked: a misspelt kind stops the bench before it starts anything. */
function backlogKind(v: string | undefined): BacklogKind {
  const kind = BACKLOG_KINDS.find((k) => k === (v ?? 'unplaceable'));
  if (!kind) throw new Error(`BENCH_BACKLOG_KIND=${v}: not one of ${BACKLOG_KINDS.join(', ')}`);
  return kind;
}

const kindOfBacklog = backlogKind(env.BENCH_BACKLOG_KIND);

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
  if (only.has('logs')) {
    results.push(
      await runLogs(stack, Number(env.BENCH_LOGS_SECONDS ?? 8), Number(env.BENCH_LOGS_LOAD ?? 100), log),
    );
    log('logs done');
  }
  if (only.has('starts_at')) {
    results.push(await runStartsAt(stack, 40, 20_000, log));
    log('starts_at done');
  }
  if (only.has('barrier_wake')) {
    results.push(await runBarrierWake(stack, Number(env.BENCH_WAKE_PAIRS ?? 20), 400, log));
    log('barrier_wake done');
  }
  if (only.has('backlog')) {
    results.push(
      await runBacklog(
        stack,
        Number(env.BENCH_BACKLOG_DRAIN ?? 100),
        Number(env.BENCH_BACKLOG_WAITING ?? 5_000),
        log,
        kindOfBacklog,
      ),
    );
    log('backlog done');
  }
  if (only.has('engine_calls')) {
    results.push(await runEngineCalls(stack, Number(env.BENCH_ENGINE_CALLS ?? 10), 4, log));
    log('engine_calls done');
  }
  if (only.has('array')) {
    results.push(await runArray(stack, Number(env.BENCH_ARRAYS ?? 3), log));
    log('array done');
  }
  if (only.has('scale-out')) {
    const sizes = (env.BENCH_SCALE_SIZES ?? '1,2,4').split(',').map(Number);
    results.push(await runScaleOut(stack, sizes, Number(env.BENCH_SCALE_SESSIONS ?? 60), log));
    log('scale-out done');
  }
  if (only.has('cli')) {
    results.push(await runCliBench(stack, Number(env.BENCH_CLI_RUNS ?? 21), log));
    log('cli done');
  }
  // Before submit (its PENDING sessions would be dispatched in the measured rounds); it leaves a
  // million ended sessions in the manager's database.
  if (only.has('history')) {
    const opts = {
      sessions: Number(env.BENCH_HISTORY_SESSIONS ?? 1_000_000),
      samples: Number(env.BENCH_HISTORY_SAMPLES ?? 20),
      drain: Number(env.BENCH_HISTORY_DRAIN ?? 100),
    };
    results.push(await runHistory(stack, opts, log));
    log('history done');
  }
  // Last: it leaves thousands of sessions PENDING until tomorrow in the manager's database.
  if (only.has('submit')) {
    const s = await runSubmit(stack, 32, Number(env.BENCH_SUBMIT_SECONDS ?? 10) * 1000, log);
    results.push(s.result);
    load = s.rssUnderLoad;
    log('submit done');
  }
  await sleep(2_000);
  const justAfter = await sampleIdle(stack);
  const settledMs = await settleAfterLoad(stack);
  log(`RSS settled ${Math.round(settledMs / 1000)} s after the runs`);
  const idleAfter = await sampleIdle(stack);
  results.push(await footprintResult(idle, load, justAfter, idleAfter, settledMs));

  const table = formatTable(results);
  process.stdout.write(`\n${table}\n\n`);
  // Issue 18's target table: every line this run measured, each with its same-run baseline.
  const summary = collectSummary(results);
  process.stdout.write(`${formatSummary(summary)}\n\n`);
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
    summary,
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
