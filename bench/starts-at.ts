import { sleep } from '../src/stack/process-util.js';
import type { BenchStack } from './lib/stack.js';
import { baselineContainer } from './lib/stack.js';
import { lowerIsBetter, summaryLine, type BenchResult } from './lib/result.js';
import { summarize } from './lib/stats.js';

/** The instants: `n` of them spread evenly over `spreadMs`, the first `leadMs` from now. */
function instants(n: number, leadMs: number, spreadMs: number): number[] {
  const t0 = Date.now() + leadMs;
  return Array.from({ length: n }, (_, i) => Math.round(t0 + (i * spreadMs) / Math.max(1, n - 1)));
}

/**
 * bai: `n` sessions with starts_at spread over `spreadMs`; the skew of each is the container's
 * start as Docker records it (State.StartedAt, which the exit report carries into
 * kernels.started_at) minus its starts_at. Small sessions (0.1 cpu) so capacity never delays
 * one: this measures the timer path, not the queue.
 */
async function baiSkews(stack: BenchStack, n: number, spreadMs: number): Promise<number[]> {
  const at = instants(n, 5_000, spreadMs);
  const ids: string[] = [];
  for (const t of at) {
    const r = await stack.client.request<{ sessionId: string }>('POST', '/session', {
      image: 'python',
      type: 'batch',
      startupCommand: 'true',
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
      .select('s.result', 's.starts_at', 'k.started_at')) as {
      result: string;
      starts_at: Date;
      started_at: Date | null;
    }[];
    if (rows.length === n) {
      const bad = rows.filter((r) => r.result !== 'SUCCESS' || !r.started_at).length;
      if (bad > 0) throw new Error(`starts_at: ${bad} of ${n} sessions did not run`);
      return rows.map((r) => r.started_at!.getTime() - r.starts_at.getTime());
    }
    if (Date.now() > until) throw new Error(`starts_at: only ${rows.length}/${n} sessions ended`);
    await sleep(200);
  }
}

/** The floor: containers created ahead through the Docker API, started by a timer at the instant. */
async function floorSkews(stack: BenchStack, n: number, spreadMs: number): Promise<number[]> {
  const d = stack.dockerApi;
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(
      await d.createContainer(
        baselineContainer(stack, `bench-at-${process.pid}-${i}`, 0.1, 64 * 1024 * 1024),
      ),
    );
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
    const st = await d.inspect(id);
    skews.push((st?.startedAt ?? NaN) - at[i]!);
    await d.remove(id);
  }
  return skews;
}

export async function runStartsAt(
  stack: BenchStack,
  n = 50,
  spreadMs = 20_000,
  log: (m: string) => void = () => {},
): Promise<BenchResult> {
  const bai = await baiSkews(stack, n, spreadMs);
  log(`starts_at: bai done`);
  const fl = await floorSkews(stack, n, spreadMs);
  const b = summarize(bai);
  const f = summarize(fl);
  const row = (metric: string, pick: 'median' | 'p99', target: string, ok: (v: number) => boolean) =>
    lowerIsBetter(
      {
        bench: 'starts_at',
        metric,
        unit: 'ms',
        bai: b[pick],
        baseline: f[pick],
        baselineName: 'timer + docker start',
        target,
      },
      () => ok(b[pick]),
    );
  return {
    name: 'starts_at',
    rows: [
      row(`skew p50 (${n} over ${spreadMs / 1000} s)`, 'median', '', () => true),
      row('skew p99', 'p99', '≤ 250 ms', (v) => v <= 250),
    ],
    extra: { bai: b, floor: f, baiSkews: bai, floorSkews: fl },
    summaryLines: [
      summaryLine(
        {
          figure: 'starts_at skew p99',
          unit: 'ms',
          bai: b.p99,
          baseline: f.p99,
          baselineName: 'timer + docker start',
          target: '≤ 50 ms',
        },
        { atMost: 50 },
      ),
    ],
  };
}
