import { followSessionEvents } from '../src/cli/event-stream.js';
import type { BenchStack } from './lib/stack.js';
import { baselineContainer, timed } from './lib/stack.js';
import { CounterMeter } from './lib/counters.js';
import { lowerIsBetter, summaryLine, type BenchResult } from './lib/result.js';
import { summarize } from './lib/stats.js';
import { phases, readHistories } from './lib/phases.js';

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
    extra: {
      perSession,
      samples: { bai, dockerRun: run, dockerApi: api },
      phases: phases(await readHistories(stack, ids)),
    },
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
