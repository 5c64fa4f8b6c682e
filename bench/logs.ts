import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { baiDrain } from './drain.js';
import { Redis } from 'ioredis';
import { logStreamKey } from '../src/queue/names.js';
import { sleep } from '../src/stack/process-util.js';
import { cliEnv, timed, type BenchStack } from './lib/stack.js';
import { lowerIsBetter, summaryLine, type BenchResult } from './lib/result.js';
import { summarize } from './lib/stats.js';

const root = resolve(fileURLToPath(import.meta.url), '../../..');

/** The job: a line `t=<epoch seconds>` every `everyMs`, flushed, until stopped (10 min at most). */
function printer(everyMs: number): string {
  return [
    'import sys, time',
    'end = time.time() + 600',
    'while time.time() < end:',
    '    print(f"t={time.time():.6f}", flush=True)',
    `    time.sleep(${everyMs / 1000})`,
  ].join('\n');
}

/**
 * One reader of a printing job: the process whose stdout carries the job's lines (`bai run`,
 * or `docker run` attached), each line's latency stamped the moment its bytes arrive here.
 */
class LineClock {
  readonly samples: { printedAt: number; latencyMs: number }[] = [];
  private rest = '';
  private firstLine!: () => void;
  readonly first = new Promise<void>((r) => (this.firstLine = r));
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(readonly proc: ChildProcess) {
    proc.stdout!.on('data', (b: Buffer) => {
      const now = Date.now();
      const lines = (this.rest + b.toString()).split('\n');
      this.rest = lines.pop() ?? '';
      for (const l of lines) {
        const m = /^t=(\d+\.\d+)$/.exec(l.trim());
        if (!m) continue;
        const printedAt = Number(m[1]) * 1000;
        this.samples.push({ printedAt, latencyMs: now - printedAt });
        this.firstLine();
      }
    });
    proc.stderr!.on('data', (b: Buffer) => (this.stderr += b.toString()));
    this.exited = new Promise((r) => proc.on('exit', (code) => r(code)));
  }

  /** Latencies of the lines printed inside [from, to]. */
  within(from: number, to: number): number[] {
    return this.samples.filter((s) => s.printedAt >= from && s.printedAt <= to).map((s) => s.latencyMs);
  }
}

/**
 * Where bai's latency goes: for each line of the agent's live copy, the Redis entry id's time
 * (when the agent's append landed) minus the time in the line — the agent's share (Docker's
 * log follow, the copier); the rest is the manager's blocking read, its answer and the CLI.
 */
async function agentShare(stack: BenchStack, name: string, from: number, to: number): Promise<number[]> {
  const info = await stack.client.request<{ kernels?: { kernelId: string; role?: string }[] }>(
    'GET',
    `/session/${name}`,
  );
  const kernelId = info.kernels?.[0]?.kernelId;
  if (!kernelId) return [];
  const redis = new Redis(stack.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const entries = await redis.xrange(logStreamKey(stack.prefix, stack.agentId, kernelId), '-', '+');
    const out: number[] = [];
    for (const [id, fields] of entries) {
      const at = Number(id.split('-')[0]);
      const d = fields[fields.indexOf('d') + 1] ?? '';
      for (const m of d.matchAll(/t=(\d+\.\d+)/g)) {
        const printedAt = Number(m[1]) * 1000;
        if (printedAt >= from && printedAt <= to) out.push(at - printedAt);
      }
    }
    return out;
  } finally {
    redis.disconnect();
  }
}

/**
 * Container line → the reader's stdout, while a drain load runs beside it: `bai run` (the real
 * CLI, a child process) and the baseline `docker run` attached on the same engine, the same
 * job printing side by side, so the machine's noise falls on both alike. The load (a drain of
 * `loadSessions` `true` sessions, as the drain bench submits them) starts once both print;
 * the lines printed in the `seconds` after that, while the load runs, count. Then both jobs
 * are stopped (the session cancelled, the container removed).
 */
export async function runLogs(
  stack: BenchStack,
  seconds = 8,
  loadSessions = 100,
  log: (m: string) => void = () => {},
): Promise<BenchResult> {
  const script = printer(50);
  const name = `bench-logs-${process.pid}`;
  const bai = new LineClock(
    spawn(process.execPath, [join(root, 'bin/bai.js'), 'run', '-t', name, '-c', script, 'python'], {
      env: cliEnv(stack, join(stack.base, 'state', 'cli')),
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const container = `bench-logs-${process.pid}`;
  const dockerArgs = ['-H', stack.docker.url, 'run', '--rm', '--name', container, stack.image];
  const docker = new LineClock(
    spawn('docker', [...dockerArgs, 'python3', '-c', script], { stdio: ['ignore', 'pipe', 'pipe'] }),
  );
  const stopJobs = async () => {
    await stack.client.request('DELETE', `/session/${name}`).catch(() => undefined);
    await timed('docker', ['-H', stack.docker.url, 'rm', '-f', container]).catch(() => undefined);
  };
  const failed = (who: string, c: LineClock) =>
    c.exited.then((code) => {
      throw new Error(`logs: ${who} exited ${code} before its first line: ${c.stderr}`);
    });
  let loadStart = 0;
  let windowEnd = 0;
  let loadEnd = 0;
  try {
    await Promise.race([
      Promise.all([bai.first, docker.first]),
      failed('bai run', bai),
      failed('docker run', docker),
    ]);
    log('logs: both readers print; drain load starts');
    loadStart = Date.now();
    const load = baiDrain(stack, loadSessions).then(() => (loadEnd = Date.now()));
    await sleep(seconds * 1000);
    windowEnd = Date.now();
    await stopJobs();
    await Promise.all([bai.exited, docker.exited]);
    await load; // its end waits for the engine to be empty, the jobs above included
  } finally {
    await stopJobs();
  }
  if (loadEnd < windowEnd) log(`logs: the load ended ${windowEnd - loadEnd} ms before the window did`);
  // Lines printed while the load ran.
  const to = Math.min(windowEnd, loadEnd);
  const b = bai.within(loadStart, to);
  const d = docker.within(loadStart, to);
  if (b.length === 0 || d.length === 0) throw new Error('logs: no line printed while the load ran');
  const agent = summarize(await agentShare(stack, name, loadStart, to).catch(() => []));
  log(`logs: line → Redis (the agent's share) p50 ${agent.median} p95 ${agent.p95} ms`);
  const bs = summarize(b);
  const ds = summarize(d);
  log(
    `logs: ${b.length} lines under load; bai p50 ${bs.median} p95 ${bs.p95} ms; docker ${ds.median} / ${ds.p95}`,
  );
  const idle = summarize(bai.within(0, loadStart));
  return {
    name: 'logs',
    rows: [
      lowerIsBetter(
        {
          bench: 'logs',
          metric: `line → stdout under a drain of ${loadSessions}`,
          unit: 'ms',
          bai: bs,
          baseline: ds,
          baselineName: 'docker run attached',
          target: 'p95 ≤ 300 ms',
        },
        () => bs.p95 <= 300,
      ),
    ],
    extra: {
      seconds,
      loadSessions,
      loadMs: loadEnd - loadStart,
      windowMs: to - loadStart,
      baiLines: bai.samples.length,
      dockerLines: docker.samples.length,
      bai: bs,
      docker: ds,
      baiBeforeLoad: idle,
      agentShare: agent,
      baiSamples: b,
      dockerSamples: d,
    },
    summaryLines: [
      summaryLine(
        {
          figure: 'container line → bai run stdout, p95 under drain load',
          unit: 'ms',
          bai: bs.p95,
          baseline: ds.p95,
          baselineName: 'docker run attached',
        },
        { atMost: 300 },
      ),
    ],
  };
}
