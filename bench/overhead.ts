import { followSessionEvents } from '../src/cli/event-stream.js';
import type { BenchStack } from './lib/stack.js';
import { baselineContainer, timed } from './lib/stack.js';
import { CounterMeter } from './lib/counters.js';
import { lowerIsBetter, summaryLine, type BenchResult } from './lib/result.js';
import { summarize, type Summary } from './lib/stats.js';

/** Submit → TERMINATED/SUCCESS of one `true` session, as `bai run` sees it: POST, then SSE. */
export async function baiRunTrue(
  stack: BenchStack,
  body: Record<string, unknown> = {},
): Promise<{ ms: number; id: string }> {
  const t0 = performance.now();
  const created = await stack.client.request<{ sessionId: string }>('POST', '/session', {
    image: 'python',
    type: 'batch',
    startupCommand: 'true',
    enqueueOnly: true,
    ...body,
  });
  let result = '';
  await followSessionEvents(stack.client, created.sessionId, 'session', (ev) => {
    if (ev.event === 'session_terminated' || ev.event === 'session_cancelled') {
      result = String(ev.data.result ?? '');
      return true;
    }
    return false;
  });
  const ms = performance.now() - t0;
  if (result !== 'SUCCESS') throw new Error(`session ${created.sessionId} ended ${result}, not SUCCESS`);
  return { ms, id: created.sessionId };
}

/** create, start, wait, remove through the Docker API (dockerode, via the adapter). */
async function apiSequence(stack: BenchStack, n: number): Promise<number> {
  const d = stack.dockerApi;
  const t0 = performance.now();
  const id = await d.createContainer(
    baselineContainer(stack, `bench-api-${process.pid}-${n}`, 1, 256 * 1024 * 1024),
  );
  await d.start(id);
  const code = await d.wait(id);
  await d.remove(id);
  if (code !== 0) throw new Error(`api sequence: exit ${code}`);
  return performance.now() - t0;
}

/** Where a session's time goes: the gaps between the transitions of its status_history. */
async function phases(stack: BenchStack, ids: string[]): Promise<Record<string, Summary>> {
  const rows = (await stack.db('sessions').whereIn('id', ids).select('status_history', 'created_at')) as {
    status_history: Record<string, string>;
  }[];
  const gaps = new Map<string, number[]>();
  for (const r of rows) {
    const steps = Object.entries(r.status_history).sort((a, b) => Date.parse(a[1]) - Date.parse(b[1]));
    for (let i = 1; i < steps.length; i++) {
      const key = `${steps[i - 1]![0]}→${steps[i]![0]}`;
      gaps.set(key, [...(gaps.get(key) ?? []), Date.parse(steps[i]![1]) - Date.parse(steps[i - 1]![1])]);
    }
  }
  return Object.fromEntries([...gaps].map(([k, v]) => [k, summarize(v)]));
}

export async function runOverhead(
  stack: BenchStack,
  samples = 30,
  log: (m: string) => void = () => {},
): Promise<BenchResult> {
  const host = ['-H', stack.docker.url];
  const cli = () => timed('docker', [...host, 'run', '--rm', stack.image, 'true']);
  // Warm up each path (page cache, first-connection costs), then interleave the three so that
  // noise from other users of the machine falls on all of them alike.
  for (let i = 0; i < 2; i++) {
    await cli();
    await apiSequence(stack, -1 - i);
    await baiRunTrue(stack);
  }
  const bai: number[] = [];
  const run: number[] = [];
  const api: number[] = [];
  const ids: string[] = [];
  const counters = new CounterMeter(stack);
  await counters.begin();
  for (let i = 0; i < samples; i++) {
    run.push(await cli());
    api.push(await apiSequence(stack, i));
    const r = await baiRunTrue(stack);
    bai.push(r.ms);
    ids.push(r.id);
    if ((i + 1) % 10 === 0) log(`overhead: ${i + 1}/${samples}`);
  }
  const perSession = await counters.end(samples);
  log(`overhead: per session (with background) ${JSON.stringify(perSession)}`);
  const b = summarize(bai);
  const dr = summarize(run);
  const da = summarize(api);
  return {
    name: 'overhead',
    rows: [
      lowerIsBetter(
        {
          bench: 'overhead',
          metric: 'submit→TERMINATED vs docker run',
          unit: 'ms',
          bai: b,
          baseline: dr,
          baselineName: 'docker run --rm',
          target: '≤ 1.5×',
        },
        (ratio) => (ratio === null ? null : ratio <= 1.5),
      ),
      lowerIsBetter(
        {
          bench: 'overhead',
          metric: 'submit→TERMINATED vs Docker API',
          unit: 'ms',
          bai: b,
          baseline: da,
          baselineName: 'create/start/wait/remove',
          target: '[goal ≤ 1.2×]',
        },
        () => null,
      ),
    ],
    extra: { perSession, samples: { bai, dockerRun: run, dockerApi: api }, phases: await phases(stack, ids) },
    summaryLines: [
      summaryLine(
        {
          figure: 'overhead vs bare Docker API sequence (median)',
          unit: 'ms',
          bai: b.median,
          baseline: da.median,
          baselineName: 'create/start/wait/remove',
        },
        { ratioAtMost: 1.15 },
      ),
    ],
  };
}
