import { loadavg } from 'node:os';
import { sleep } from '../src/stack/process-util.js';
import type { BenchStack } from './lib/stack.js';
import { baselineContainer } from './lib/stack.js';
import { lowerIsBetter, summaryLine, type BenchResult } from './lib/result.js';
import { summarize } from './lib/stats.js';

/**
 * The job of every sample, bai's and the baseline's: its first instruction prints the wall
 * clock. The skew is that time minus the instant asked for: the start as the user's process
 * sees it, not as Docker records the container's start. `date` rather than Python: a session
 * of 0.1 cpu runs under a CPU quota of 10 ms per 100 ms, so Python's ~30 ms of start-up would
 * add hundreds of ms to both sides (and seconds on a loaded machine) that are the quota's, not
 * the start path's. The same argv runs on both sides.
 */
const FIRST_INSTRUCTION = ['/bin/sh', '-c', 'exec date +%s.%N'];

/** The manager's BAI_START_LEAD_MS (the bench runs it with its default). */
const LEAD_MS = 30_000;

/** The instants: `n` of them spread evenly over `spreadMs`, the first `leadMs` from now. */
function instants(n: number, leadMs: number, spreadMs: number): number[] {
  const t0 = Date.now() + leadMs;
  return Array.from({ length: n }, (_, i) => Math.round(t0 + (i * spreadMs) / Math.max(1, n - 1)));
}

/** The first instruction's time (ms) from the job's output. */
function printedAt(logs: string | null): number {
  const t = Number((logs ?? '').trim().split('\n')[0]);
  return Number.isFinite(t) && t > 0 ? t * 1000 : NaN;
}

/** One bai sample, split: release (agent clock), FIFO written, first instruction (ms after starts_at). */
interface Sample {
  sessionId: string;
  /** The job's printed first instruction − starts_at. */
  first: number;
  /** `kernels.started_at` − starts_at: the release clock's instant. */
  released: number;
  /** From the release to the last FIFO written (the agent log's `wroteMs`; null: not in it). */
  wroteMs: number | null;
}

/** `wroteMs` of every `session released` line the bench agent logged, by session. */
function wroteBySession(stack: BenchStack): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of stack.agent.releasedLines) {
    try {
      const m = JSON.parse(line) as { sessionId?: string; wroteMs?: number | null };
      if (m.sessionId && typeof m.wroteMs === 'number') out.set(m.sessionId, m.wroteMs);
    } catch {
      /* not a JSON line */
    }
  }
  return out;
}

/**
 * The breakdown of the slowest samples and the medians of each part: release (agent clock),
 * release → FIFO written, FIFO written → first instruction (the container's part: the held
 * shell woken, then what it `exec`s).
 */
function breakdown(samples: Sample[]): string[] {
  const part = (s: Sample) => ({
    first: s.first,
    released: s.released,
    wrote: s.wroteMs,
    container: s.first - s.released - (s.wroteMs ?? 0),
  });
  const parts = samples.map(part);
  const med = (xs: number[]) => summarize(xs).median;
  const fmt = (x: number | null) => (x === null ? '-' : x.toFixed(1));
  const lines = [
    `starts_at medians: release ${fmt(med(parts.map((p) => p.released)))} ms, ` +
      `FIFO written +${fmt(med(parts.flatMap((p) => (p.wrote === null ? [] : [p.wrote]))))} ms, ` +
      `container ${fmt(med(parts.map((p) => p.container)))} ms, first ${fmt(med(parts.map((p) => p.first)))} ms`,
  ];
  for (const p of [...parts].sort((a, b) => b.first - a.first).slice(0, 6))
    lines.push(
      `starts_at slow: first ${fmt(p.first)} = release ${fmt(p.released)} + write ${fmt(p.wrote)} + container ${fmt(p.container)} ms`,
    );
  return lines;
}

/**
 * bai: `n` sessions with starts_at spread over `spreadMs`, placed by the start lead (their
 * containers held at the start barrier, docs/scheduling.md). Small sessions (0.1 cpu) so
 * capacity never delays one: this measures the start path, not the queue. Also returns the
 * skew of `kernels.started_at` (the release) for comparison.
 */
async function baiSkews(
  stack: BenchStack,
  n: number,
  spreadMs: number,
): Promise<{ first: number[]; recorded: number[]; samples: Sample[] }> {
  // Beyond the start lead (30 s): each session is placed 30 s before its instant, as in use, so
  // its pull and create are done ahead however loaded the machine (the baseline's are too).
  const at = instants(n, LEAD_MS + 5_000, spreadMs);
  const ids: string[] = [];
  for (const t of at) {
    const r = await stack.client.request<{ sessionId: string }>('POST', '/session', {
      image: 'python',
      type: 'batch',
      startupCommand: FIRST_INSTRUCTION[2], // bai runs it as /bin/sh -c <command>
      enqueueOnly: true,
      starts_at: new Date(t).toISOString(),
      config: { resources: { cpu: 0.1, mem: '64m' } },
    });
    ids.push(r.sessionId);
  }
  const until = at[at.length - 1]! + 60_000;
  for (;;) {
    const rows = (await stack
      .db('sessions as s')
      .join('kernels as k', 'k.session_id', 's.id')
      .whereIn('s.id', ids)
      .whereIn('s.status', ['TERMINATED', 'CANCELLED'])
      .select('s.id', 's.result', 's.starts_at', 'k.started_at', 'k.logs')) as {
      id: string;
      result: string;
      starts_at: Date;
      started_at: Date | null;
      logs: string | null;
    }[];
    if (rows.length === n) {
      const bad = rows.filter((r) => r.result !== 'SUCCESS' || !r.started_at).length;
      if (bad > 0) throw new Error(`starts_at: ${bad} of ${n} sessions did not run`);
      const first = rows.map((r) => printedAt(r.logs) - r.starts_at.getTime());
      if (first.some(Number.isNaN)) throw new Error('starts_at: a job printed no time');
      const recorded = rows.map((r) => r.started_at!.getTime() - r.starts_at.getTime());
      const wrote = wroteBySession(stack);
      const samples = rows.map((r, i) => ({
        sessionId: r.id,
        first: first[i]!,
        released: recorded[i]!,
        wroteMs: wrote.get(r.id) ?? null,
      }));
      return { first, recorded, samples };
    }
    if (Date.now() > until) {
      const open = (await stack
        .db('sessions')
        .whereIn('id', ids)
        .groupBy('status', 'status_info')
        .select('status', 'status_info')
        .count('* as n')) as { status: string; status_info: string | null; n: string }[];
      const where = open.map((o) => `${o.n} ${o.status}/${o.status_info ?? ''}`).join(', ');
      throw new Error(`starts_at: only ${rows.length}/${n} sessions ended (${where})`);
    }
    await sleep(200);
  }
}

/**
 * The baseline: the same job in containers created ahead through the Docker API, started by a
 * timer at the instant (`docker start`), measured the same way (its printed first instruction).
 */
async function floorSkews(stack: BenchStack, n: number, spreadMs: number): Promise<number[]> {
  const d = stack.dockerApi;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const spec = baselineContainer(stack, `bench-at-${process.pid}-${i}`, 0.1, 64 * 1024 * 1024);
    ids.push(await d.createContainer({ ...spec, cmd: FIRST_INSTRUCTION }));
  }
  const at = instants(n, 1_000, spreadMs);
  await Promise.all(
    ids.map(async (id, i) => {
      await sleep(at[i]! - Date.now());
      await d.start(id);
    }),
  );
  const skews: number[] = [];
  for (const [i, id] of ids.entries()) {
    await d.wait(id);
    skews.push(printedAt((await d.logTail(id, 4096)).text) - at[i]!);
    await d.remove(id);
  }
  if (skews.some(Number.isNaN)) throw new Error('starts_at: a baseline container printed no time');
  return skews;
}

/**
 * `n` × 0.1 cpu must fit the bench agent's 4 cpu at once: every session is placed (and holds its
 * slots) 30 s ahead, and the spread is shorter than that.
 */
export async function runStartsAt(
  stack: BenchStack,
  n = 40,
  spreadMs = 20_000,
  log: (m: string) => void = () => {},
): Promise<BenchResult> {
  const bai = await baiSkews(stack, n, spreadMs);
  log(
    `starts_at: bai done (load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')})`,
  );
  for (const line of breakdown(bai.samples)) log(line);
  const fl = await floorSkews(stack, n, spreadMs);
  const b = summarize(bai.first);
  const f = summarize(fl);
  const row = (metric: string, pick: 'median' | 'p99', target: string, ok: (v: number) => boolean) =>
    lowerIsBetter(
      {
        bench: 'starts_at',
        metric,
        unit: 'ms',
        bai: b[pick],
        baseline: f[pick],
        baselineName: 'created ahead, timer + docker start',
        target,
      },
      () => ok(b[pick]),
    );
  return {
    name: 'starts_at',
    rows: [
      row(`skew at first instruction p50 (${n} over ${spreadMs / 1000} s)`, 'median', '', () => true),
      row('skew at first instruction p99', 'p99', '≤ 50 ms (goal ≤ 10 ms)', (v) => v <= 50),
    ],
    extra: {
      bai: b,
      floor: f,
      recorded: summarize(bai.recorded),
      baiSkews: bai.first,
      floorSkews: fl,
      recordedSkews: bai.recorded,
      samples: bai.samples,
    },
    summaryLines: [
      summaryLine(
        {
          figure: 'starts_at skew p99 (first instruction)',
          unit: 'ms',
          bai: b.p99,
          baseline: f.p99,
          baselineName: 'timer + docker start',
        },
        { atMost: 50 },
      ),
    ],
  };
}
