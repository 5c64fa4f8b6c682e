import test, { type ExecutionContext } from 'ava';
import Docker from 'dockerode';
import { call, openSse, slugOf } from '../helpers/api.js';
import { testEnv } from '../helpers/env.js';
import { eventually } from '../helpers/eventually.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';
import type { SessionWire } from '../../src/domain/session-wire.js';

// Start deadlines: a session not placed in time ends CANCELLED start-deadline-exceeded and never
// starts; one placed in time runs. The only agent has 1 cpu, held by a long-running filler.

let stack: TestStack;
let docker: Docker;
let filler: string;
const oneCpu = { config: { resources: { cpu: 1, mem: '64m' } } };

test.before(async () => {
  stack = await startTestStack({ agent: { slots: { cpu: 1, mem: 2 * 1024 ** 3 } } });
  docker = new Docker({ socketPath: testEnv().dockerHost.replace(/^unix:\/\//, '') });
  filler = await create(batch('sleep 600', { name: 'dl-filler', ...oneCpu }));
  await waitForStatus(stack.client, filler, ['RUNNING'], 120_000);
});
test.after.always(async () => {
  await stack?.close();
});

async function create(body: Record<string, unknown>): Promise<string> {
  return (await stack.client.request<{ sessionId: string }>('POST', '/session', body)).sessionId;
}
const get = (id: string) => stack.client.request<SessionWire>('GET', `/session/${id}`);
const containersOf = (id: string) =>
  docker.listContainers({ all: true, filters: { label: [`ai.bai.session-id=${id}`] } });

function neverStarted(t: ExecutionContext, v: SessionWire): void {
  t.is(v.status, 'CANCELLED', `${v.sessionName}: ${v.status} ${v.statusInfo}`);
  t.is(v.statusInfo, 'start-deadline-exceeded');
  t.is(v.result, 'FAILURE');
  t.deepEqual(Object.keys(v.statusHistory).sort(), ['CANCELLED', 'PENDING'], 'never placed, never ran');
  t.is(v.agentId, null);
  t.is(v.kernels[0]?.startedAt ?? null, null);
}

test.serial(
  'a session whose deadline passes while the agent is full ends start-deadline-exceeded, never started',
  async (t) => {
    const late = await create(batch('echo late', { name: 'dl-late', startDeadline: 3, ...oneCpu }));
    const fromStart = await create(
      batch('echo late', { name: 'dl-late-at', starts_at: '2s', start_deadline: '2s', ...oneCpu }),
    );
    const v = await waitForStatus(stack.client, late, ['CANCELLED', 'TERMINATED'], 120_000);
    neverStarted(t, v);
    t.is(v.startDeadline, 3);
    t.deepEqual(v.statusData.startDeadline, {
      seconds: 3,
      deadline: new Date(Date.parse(v.creationTime) + 3000).toISOString(),
    });
    t.true(
      Date.parse(v.terminationTime!) >= Date.parse(v.creationTime) + 3000,
      'not cancelled before its deadline',
    );
    t.is((await containersOf(late)).length, 0, 'no container was made for it');
    // The event stream says why.
    const sse = await openSse(stack.client, { sessionId: late });
    try {
      const ev = await sse.until((f) => f.event === 'session_cancelled');
      t.is(ev.data.reason, 'start-deadline-exceeded');
      t.false(sse.frames.some((f) => ['session_scheduled', 'session_started'].includes(f.event)));
    } finally {
      sse.close();
    }

    // Counted from starts_at when it has one.
    const w = await waitForStatus(stack.client, fromStart, ['CANCELLED', 'TERMINATED'], 120_000);
    neverStarted(t, w);
    t.deepEqual(w.statusData.startDeadline, {
      seconds: 2,
      deadline: new Date(Date.parse(w.startsAt!) + 2000).toISOString(),
    });
    t.is((await containersOf(fromStart)).length, 0);
    t.is((await get(filler)).status, 'RUNNING', 'the filler held the agent all along');
  },
);

test.serial('a session with a deadline that gets capacity in time runs normally', async (t) => {
  const onTime = await create(batch('echo on time', { name: 'dl-on-time', startDeadline: '10m', ...oneCpu }));
  // It waits for capacity first…
  await eventually(
    async () => {
      const v = await get(onTime);
      const preds = (v.statusData as { predicates?: { name: string }[] }).predicates ?? [];
      return v.status === 'PENDING' && preds.some((p) => p.name === 'capacity');
    },
    { timeoutMs: 60_000, intervalMs: 100, message: () => 'dl-on-time to wait for capacity' },
  );
  // …and gets it when the filler goes.
  const r = await call(stack.client, 'DELETE', `/session/${filler}`, undefined, { forced: 'true' });
  t.is(r.status, 200, JSON.stringify(r.body));
  const v = await waitForStatus(stack.client, onTime, ['TERMINATED', 'CANCELLED'], 120_000);
  t.is(v.status, 'TERMINATED', `${v.statusInfo}`);
  t.is(v.result, 'SUCCESS');
  t.is(v.startDeadline, 600);
  t.truthy(v.kernels[0]?.startedAt);
});

test.serial('a retry of a session that was placed in time is not held to the deadline', async (t) => {
  // The first attempt is placed at once on the idle agent and fails; the second is due 40 s
  // later, past the 30 s deadline, and still runs: the session started once already.
  const id = await create(
    batch('exit 1', {
      name: 'dl-retried',
      startDeadline: 30,
      retry: { max_attempts: 2, backoff: 'fixed', delay: '40s', on: ['non-zero-exit'] },
      ...oneCpu,
    }),
  );
  const v = await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 180_000);
  // Every ended attempt is listed: the retried first and the final second.
  t.deepEqual(
    v.attempts.map((a) => [a.attempt, a.reason]),
    [
      [1, 'non-zero-exit'],
      [2, 'task-failed'],
    ],
    JSON.stringify(v.attempts),
  );
  t.is(v.attempt, 2);
  t.is(v.status, 'TERMINATED', `${v.statusInfo}`);
  t.is(v.statusInfo, 'task-failed');
  t.true(
    Date.parse(v.kernels[0]!.startedAt!) > Date.parse(v.creationTime) + 30_000,
    'the second attempt started after the deadline',
  );
});

test.serial('a bad start deadline is a 400 naming it', async (t) => {
  for (const startDeadline of [0, -1, 'soon', '400d']) {
    const r = await call<{ msg?: string }>(
      stack.client,
      'POST',
      '/session',
      batch('true', { startDeadline }),
    );
    t.is(r.status, 400, String(startDeadline));
    t.is(slugOf(r), 'generic-bad-request');
    t.regex(String(r.body.msg), /start_deadline/);
  }
});
