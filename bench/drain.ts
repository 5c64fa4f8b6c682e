import { spawn } from 'node:child_process';
import { sleep } from '../src/stack/process-util.js';
import type { BenchStack } from './lib/stack.js';
import { cpuMeter } from './lib/stack.js';
import { CounterMeter } from './lib/counters.js';
import { lowerIsBetter, summaryLine, type BenchResult, type SummaryLine } from './lib/result.js';
import type { CpuGroups } from './lib/cpu.js';
import type { PerUnit } from './lib/counters.js';
import { summarize } from './lib/stats.js';
import { Tracer } from './lib/trace.js';
import { PgssMeter, pgssEnabled } from './lib/pgss.js';
import { phases, readHistories, slotTurnaround } from './lib/phases.js';

/** The control plane's CPU seconds (manager, agent, PostgreSQL, Redis) in a meter's figures. */
function controlPlaneSeconds(cpu: CpuGroups): number {
  return ['manager', 'agent', 'postgres', 'redis'].reduce((a, k) => a + (cpu[k] ?? 0), 0);
}

/** Gaps between consecutive completions: the per-container cost at steady state. */
function gaps(doneAt: number[], start: number): number[] {
  const s = [start, ...[...doneAt].sort((a, b) => a - b)];
  return s.slice(1).map((t, i) => t - s[i]!);
}

/** `seq N | xargs -PP docker run --rm IMAGE true`, each completion stamped by `date`. */
function xargsDrain(
  stack: BenchStack,
  n: number,
  p: number,
): Promise<{ totalMs: number; doneAt: number[]; start: number }> {
  const cmd = `seq ${n} | xargs -P${p} -I{} sh -c 'docker -H ${stack.docker.url} run --rm ${stack.image} true && date +%s%3N'`;
  return new Promise((res, rej) => {
    const start = Date.now();
    const proc = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    proc.on('exit', (code) => {
      const totalMs = Date.now() - start;
      const doneAt = out.split('\n').filter(Boolean).map(Number);
      if (code !== 0 || doneAt.length !== n)
        rej(new Error(`xargs drain: exit ${code}, ${doneAt.length}/${n} done: ${err}`));
      else res({ totalMs, doneAt, start });
    });
  });
}

/** Submits `n` enqueue-only `true` sessions and waits until all ended and their containers are gone. */
export async function baiDrain(
  stack: BenchStack,
  n: number,
): Promise<{
  totalMs: number;
  doneAt: number[];
  start: number;
  removedMs: number;
  polls: number;
  ids: string[];
}> {
  // Polled until it has grown by n: a trigger-kept table of a few rows (metrics' ended counts),
  // so the bench's own polls cost PostgreSQL next to nothing, where a read of the n sessions
  // every 250 ms was ~1 ms of PostgreSQL's CPU per drained session, charged to bai.
  // Each poll is a PostgreSQL transaction of the bench's own: counted, and taken off bai's count.
  let polls = 0;
  const endedSoFar = async (): Promise<number> => {
    polls++;
    return Number(
      (
        (await stack.db.raw('SELECT coalesce(sum(n), 0)::bigint AS n FROM session_end_counts')) as {
          rows: { n: string }[];
        }
      ).rows[0]!.n,
    );
  };
  const endedBefore = await endedSoFar();
  const start = Date.now();
  const ids: string[] = [];
  // Submit as a client would: a few requests in flight, all enqueue-only.
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < n) {
        next++;
        const r = await stack.client.request<{ sessionId: string }>('POST', '/session', {
          image: 'python',
          type: 'batch',
          startupCommand: 'true',
          enqueueOnly: true,
        });
        ids.push(r.sessionId);
      }
    }),
  );
  const until = Date.now() + 300_000;
  const endedRows = async () => {
    polls++;
    return (await stack
      .db('sessions')
      .whereIn('id', ids)
      .whereIn('status', ['TERMINATED', 'CANCELLED'])
      .select('result', 'terminated_at')) as { result: string; terminated_at: Date }[];
  };
  for (;;) {
    const rows = (await endedSoFar()) - endedBefore < n ? [] : await endedRows();
    if (rows.length === n) {
      const failed = rows.filter((r) => r.result !== 'SUCCESS').length;
      if (failed > 0) throw new Error(`drain: ${failed} of ${n} sessions did not succeed`);
      const doneAt = rows.map((r) => r.terminated_at.getTime());
      const totalMs = Math.max(...doneAt) - start;
      // Containers are removed after the session ends (a cleanup job): wait for it, so the
      // next benchmark starts on an idle engine, and say how long it took.
      for (;;) {
        if ((await stack.dockerApi.list(['ai.bai.managed=true'])).length === 0) break;
        if (Date.now() > until) throw new Error('drain: containers not removed');
        await sleep(100);
      }
      return { totalMs, doneAt, start, removedMs: Date.now() - start, polls, ids };
    }
    if (Date.now() > until)
      throw new Error(`drain: only ${(await endedSoFar()) - endedBefore}/${n} sessions ended in 300 s`);
    await sleep(250);
  }
}

/** The drain's lines of issue 18's table: total vs xargs, work and CPU per drained session. */
function drainSummary(
  n: number,
  p: number,
  baiMs: number,
  xargsMs: number,
  perSession: PerUnit,
  cpu: CpuGroups,
): SummaryLine[] {
  const controlPlane = controlPlaneSeconds(cpu);
  const perMs = (s: number) => (s * 1000) / n;
  return [
    summaryLine(
      {
        figure: `drain, ${n} true sessions vs xargs -P${p} docker run`,
        unit: 'ms',
        bai: baiMs,
        baseline: xargsMs,
        baselineName: `xargs -P${p} docker run`,
      },
      { ratioAtMost: 1.05 },
    ),
    summaryLine(
      {
        figure: 'PostgreSQL transactions per drained session',
        unit: '',
        bai: perSession.pgTransactions,
        baseline: null,
        baselineName: '',
      },
      { atMost: 20 },
    ),
    summaryLine(
      {
        figure: 'Redis commands per drained session',
        unit: '',
        bai: perSession.redisCommands,
        baseline: null,
        baselineName: '',
      },
      { atMost: 80 },
    ),
    summaryLine(
      {
        figure: 'control-plane CPU per drained session vs dockerd per container',
        unit: 'ms',
        bai: perMs(controlPlane),
        baseline: perMs(cpu.dockerd ?? 0),
        baselineName: 'dockerd',
      },
      { ratioAtMost: 0.5 },
    ),
  ];
}

/** A second drain of `n` on the same (now warm) processes: its control-plane CPU per session vs dockerd's. */
async function warmDrain(
  stack: BenchStack,
  n: number,
  log: (m: string) => void,
): Promise<{ line: SummaryLine; cpu: CpuGroups }> {
  const meter = cpuMeter(stack);
  meter.begin();
  const w = await baiDrain(stack, n);
  const cpu = await meter.end();
  const ms = (controlPlaneSeconds(cpu) / n) * 1000;
  const dockerd = ((cpu.dockerd ?? 0) / n) * 1000;
  log(
    `drain: a second drain of ${n} on the same processes in ${w.totalMs} ms: control-plane CPU ` +
      `${ms.toFixed(1)} ms vs dockerd ${dockerd.toFixed(1)} ms per container (${(ms / dockerd).toFixed(2)}×); ` +
      `CPU s ${JSON.stringify(cpu)}`,
  );
  const line = summaryLine(
    {
      figure: 'the same, a second drain on the same processes (warm)',
      unit: 'ms',
      bai: ms,
      baseline: dockerd,
      baselineName: 'dockerd',
    },
    {},
  );
  return { line, cpu };
}

/** Counters (and, with BENCH_TRACE, their breakdown) and CPU per second of an idle manager and agent. */
async function idleCost(stack: BenchStack, seconds: number, log: (m: string) => void): Promise<void> {
  const counters = new CounterMeter(stack);
  await counters.begin();
  const tracer = process.env.BENCH_TRACE ? new Tracer(stack) : null;
  await tracer?.begin();
  const meter = cpuMeter(stack);
  meter.begin();
  await sleep(seconds * 1000);
  const cpu = await meter.end();
  const trace = await tracer?.end(seconds);
  const perSecond = await counters.end(seconds);
  if (trace) log(`drain: idle trace per second ${JSON.stringify(trace, null, 1)}`);
  const msPerSecond = Object.fromEntries(
    Object.entries(cpu).map(([k, v]) => [k, Math.round((v / seconds) * 10_000) / 10]),
  );
  log(
    `drain: idle per second ${perSecond.pgTransactions} PostgreSQL transactions, ${perSecond.redisCommands} Redis commands; CPU ms per second ${JSON.stringify(msPerSecond)}`,
  );
}

export async function runDrain(
  stack: BenchStack,
  n = 200,
  p = 4,
  log: (m: string) => void = () => {},
): Promise<BenchResult> {
  // BENCH_DRAIN_WARMUP=N: a bai drain of N first, not measured (V8 compiles the hot paths then).
  const warmup = Number(process.env.BENCH_DRAIN_WARMUP ?? 0);
  if (warmup > 0) {
    const w = await baiDrain(stack, warmup);
    log(`drain: warm-up of ${warmup} sessions in ${w.totalMs} ms (not measured)`);
  }
  const meter = cpuMeter(stack);
  meter.begin();
  const x = await xargsDrain(stack, n, p);
  const xCpu = await meter.end();
  log(`drain: xargs -P${p} ${n} containers in ${x.totalMs} ms`);
  // BENCH_IDLE_SECONDS=N: first what the idle manager and agent cost a second, and where from.
  const idleSeconds = Number(process.env.BENCH_IDLE_SECONDS ?? 0);
  if (idleSeconds > 0) await idleCost(stack, idleSeconds, log);
  const counters = new CounterMeter(stack);
  await counters.begin();
  // BENCH_TRACE=1: where the statements and commands come from (slows the servers down).
  const tracer = process.env.BENCH_TRACE ? new Tracer(stack) : null;
  await tracer?.begin();
  const pgss = pgssEnabled() ? new PgssMeter(stack) : null;
  await pgss?.begin();
  meter.begin();
  const b = await baiDrain(stack, n);
  const bCpu = await meter.end();
  log(`drain: of which in the kernel (system time), s — ${JSON.stringify(meter.system)}`);
  const statements = await pgss?.end(n);
  if (statements) log(`drain: pg_stat_statements per session ${JSON.stringify(statements, null, 1)}`);
  const trace = await tracer?.end(n);
  const counted = await counters.end(n);
  // The bench's own polls of the sessions table are not bai's work.
  const benchTx = Math.round((b.polls / n) * 10) / 10;
  const perSession = { ...counted, pgTransactions: Math.round((counted.pgTransactions - benchTx) * 10) / 10 };
  const cpuMsPerSession = (controlPlaneSeconds(bCpu) / n) * 1000;
  // The same baseline as the summary line: dockerd's CPU per container in bai's own drain
  // (xargs's drain is printed beside it; the engine works a little differently for each).
  const dockerdMsPerContainer = ((bCpu.dockerd ?? 0) / n) * 1000;
  const dockerdMsUnderXargs = ((xCpu.dockerd ?? 0) / n) * 1000;
  if (trace) log(`drain: trace per session ${JSON.stringify(trace, null, 1)}`);
  log(
    `drain: per session ${JSON.stringify(perSession)} (bench's own polls: ${benchTx} tx per session, taken off)`,
  );
  log(
    `drain: per session ${perSession.pgTransactions} PostgreSQL transactions (target ≤ 20), ` +
      `${perSession.redisCommands} Redis commands (target ≤ 80); control-plane CPU ` +
      `${cpuMsPerSession.toFixed(0)} ms vs dockerd ${dockerdMsPerContainer.toFixed(0)} ms per container: ` +
      `${(cpuMsPerSession / dockerdMsPerContainer).toFixed(2)}× (target ≤ 0.5×; dockerd under xargs ` +
      `${dockerdMsUnderXargs.toFixed(0)} ms per container)`,
  );
  log(`drain: CPU s — xargs ${JSON.stringify(xCpu)}; bai ${JSON.stringify(bCpu)}`);
  log(`drain: bai ${n} sessions in ${b.totalMs} ms (all containers removed at ${b.removedMs} ms)`);
  // Where a slot's cycle went: each phase's median / p95, and how long a freed slot waited.
  const histories = await readHistories(stack, b.ids);
  const drainPhases = phases(histories);
  const turnaround = slotTurnaround(histories, p);
  log(
    `drain: phases (median / p95 ms) ${Object.entries(drainPhases)
      .filter(([, v]) => v.n >= n / 2)
      .map(([k, v]) => `${k} ${v.median} / ${v.p95}`)
      .join(', ')}; a freed slot placed again after ${turnaround.scheduled.median} / ` +
      `${turnaround.scheduled.p95} ms, running again after ${turnaround.running.median} / ${turnaround.running.p95} ms`,
  );
  // The same drain again on the same processes: what a session costs a manager and an agent
  // that have run a while. The first drain's figure includes V8's one-off work on fresh
  // processes (compiling the paths a session takes); the target is judged on that first one.
  const warm = await warmDrain(stack, n, log);
  return {
    name: 'drain',
    rows: [
      lowerIsBetter(
        {
          bench: 'drain',
          metric: `${n} sessions, concurrency ${p}: total`,
          unit: 'ms',
          bai: b.totalMs,
          baseline: x.totalMs,
          baselineName: `xargs -P${p} docker run`,
          target: '≤ 1.3×',
        },
        (ratio) => (ratio === null ? null : ratio <= 1.3),
      ),
      lowerIsBetter(
        {
          bench: 'drain',
          metric: 'gap between completions',
          unit: 'ms',
          bai: summarize(gaps(b.doneAt, b.start)),
          baseline: summarize(gaps(x.doneAt, x.start)),
          baselineName: `xargs -P${p}`,
          target: '',
        },
        () => null,
      ),
    ],
    extra: {
      n,
      concurrency: p,
      xargsMs: x.totalMs,
      baiMs: b.totalMs,
      baiAllRemovedMs: b.removedMs,
      cpuSeconds: { xargs: xCpu, bai: bCpu, baiSecondDrain: warm.cpu },
      phases: drainPhases,
      slotTurnaround: turnaround,
      perSession,
      benchPollTxPerSession: benchTx,
      controlCpuMsPerSession: cpuMsPerSession,
      dockerdCpuMsPerContainer: dockerdMsPerContainer,
      dockerdCpuMsPerContainerUnderXargs: dockerdMsUnderXargs,
      ...(trace ? { trace } : {}),
      ...(statements ? { statements } : {}),
      baiPerSec: n / (b.totalMs / 1000),
      xargsPerSec: n / (x.totalMs / 1000),
      // When each completed, in ms from the start: where a drain's time went (its stalls).
      completionsMs: {
        bai: [...b.doneAt].sort((m, k) => m - k).map((t) => t - b.start),
        xargs: [...x.doneAt].sort((m, k) => m - k).map((t) => t - x.start),
      },
    },
    summaryLines: [...drainSummary(n, p, b.totalMs, x.totalMs, perSession, bCpu), warm.line],
  };
}
