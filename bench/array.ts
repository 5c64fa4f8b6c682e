import type { BenchStack } from './lib/stack.js';
import { lowerIsBetter, type BenchResult } from './lib/result.js';
import { summarize } from './lib/stats.js';

/** A batch create body that never runs during the bench (starts tomorrow). */
function body(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    image: 'python',
    type: 'batch',
    startupCommand: 'true',
    enqueueOnly: true,
    starts_at: '+1d',
    config: { resources: { cpu: 0.1, mem: '64m' } },
    ...extra,
  };
}

/** The manager's own time for a create (`Server-Timing: create;dur=<ms>`, set by the route). */
function serverMs(res: Response): number {
  const m = /create;dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '');
  if (!m) throw new Error('array: the create answer has no Server-Timing');
  return Number(m[1]);
}

/**
 * Array jobs: the server's time to accept a 10,000-child array (one request: the parent, 10,000
 * sessions, kernels and events written set-based in one transaction) next to the server's time
 * for one single-session create, in the same run; each array is cancelled whole after (its
 * cancel time is kept in `extra`). Server-side time, from the route's Server-Timing header, so
 * the client's JSON and the network are not in either figure.
 */
export async function runArray(
  stack: BenchStack,
  arrays: number,
  log: (m: string) => void,
): Promise<BenchResult> {
  const { client } = stack;
  // 10,000 PENDING children are over the default pending limit (1,000).
  await client.request('PATCH', '/resource-policies/default', { max_pending_session_count: 1_000_000 });
  const single: number[] = [];
  for (let i = 0; i < 30; i++) {
    const res = await client.raw('POST', '/session', body());
    if (res.status !== 201) throw new Error(`array: single create answered ${res.status}`);
    single.push(serverMs(res));
    const { sessionId } = (await res.json()) as { sessionId: string };
    await client.request('DELETE', `/session/${sessionId}`);
  }
  const accept: number[] = [];
  const cancel: number[] = [];
  for (let i = 0; i < arrays; i++) {
    const res = await client.raw('POST', '/session', body({ array: '0-9999' }));
    if (res.status !== 201) throw new Error(`array: create answered ${res.status}: ${await res.text()}`);
    accept.push(serverMs(res));
    const { sessionId } = (await res.json()) as { sessionId: string };
    const t0 = performance.now();
    await client.request('DELETE', `/session/${sessionId}`);
    cancel.push(performance.now() - t0);
    log(
      `array ${i + 1}/${arrays}: accepted in ${accept.at(-1)!.toFixed(0)} ms (server), cancelled in ${cancel.at(-1)!.toFixed(0)} ms`,
    );
  }
  const bai = summarize(accept);
  return {
    name: 'array',
    rows: [
      lowerIsBetter(
        {
          bench: 'array',
          metric: 'accept a 10,000-child array (server time)',
          unit: 'ms',
          bai,
          baseline: summarize(single),
          baselineName: 'one single-session create (server time)',
          target: '< 1000 ms',
        },
        (_r, b) => (typeof b === 'number' ? b : b.median) < 1000,
      ),
    ],
    extra: { acceptMs: accept, singleMs: single, cancelWallMs: cancel },
  };
}
