import test from 'ava';
import { holdsWithin } from '../helpers/eventually.js';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { DockerAdapter } from '../../src/docker/docker-adapter.js';
import { testEnv } from '../helpers/env.js';
import { StartCounter } from '../helpers/faults.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let starts: StartCounter;
test.before(async () => {
  // The timed path (BAI_START_BARRIER=off, and images without /bin/sh): created ahead, started by
  // the agent's timer. The barrier path starts containers ahead: sched-starts-at-barrier.test.ts.
  stack = await startTestStack({ agent: { slots: { cpu: 32, mem: 32 * 1024 ** 3 }, startBarrierDir: null } });
  starts = new StartCounter(testEnv().dockerHost, `t${stack.id}-`);
  await starts.attached();
});
test.after.always(async () => {
  starts?.stop();
  await stack?.close();
});

const create = (body: Record<string, unknown>) =>
  stack.client.request<{ sessionId: string }>('POST', '/session', body).then((r) => r.sessionId);
const get = (id: string) => stack.client.request<SessionWire>('GET', `/session/${id}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.serial('sessions with starts_at never start before it', async (t) => {
  const base = Date.now() + 2_000;
  const ids = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      create(batch('true', { name: `at-${i}`, starts_at: new Date(base + i * 173).toISOString() })),
    ),
  );
  const late: number[] = [];
  for (const id of ids) {
    const v = await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 40_000);
    t.is(v.result, 'SUCCESS', `${v.sessionName}: ${v.statusInfo}`);
    const startsAt = Date.parse(v.startsAt!);
    const started = Date.parse(v.kernels[0]!.startedAt!);
    t.true(started >= startsAt, `${v.sessionName} started ${startsAt - started} ms early`);
    late.push(started - startsAt);
  }
  late.sort((a, b) => a - b);
  t.log(`late by (ms): median ${late[late.length >> 1]}, max ${late[late.length - 1]}`); // informative only
});

test.serial(
  'cancelling a starts_at session placed ahead of its start removes it: no container starts',
  async (t) => {
    const docker = new DockerAdapter(testEnv().dockerHost);
    const id = await create(batch('echo never', { name: 'cancel-ahead', starts_at: '6s' }));
    // Placed at once (the start lead is longer than 6 s): wait for its created, not started, container.
    await holdsWithin(async () => (await docker.list([`ai.bai.session-id=${id}`])).length > 0, {
      intervalMs: 50,
    });
    t.true((await docker.list([`ai.bai.session-id=${id}`])).length > 0, 'its container was created ahead');
    await stack.client.request('DELETE', `/session/${id}`);
    const v = await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 20_000);
    t.is(v.statusInfo, 'user-requested');
    t.is(v.kernels[0]?.startedAt ?? null, null);
    await sleep(Math.max(0, Date.parse(v.startsAt!) - Date.now()) + 1_000);
    t.is(starts.starts.get(id) ?? 0, 0, 'no container of it ever started');
    t.deepEqual(await docker.list([`ai.bai.session-id=${id}`]), [], 'its container is gone');
  },
);

test.serial(
  'cancelling a starts_at session still PENDING ends it CANCELLED before it is placed',
  async (t) => {
    const id = await create(batch('echo never', { name: 'cancel-pending', starts_at: '10min' }));
    const p = await get(id);
    t.is(p.status, 'PENDING');
    await stack.client.request('DELETE', `/session/${id}`);
    const v = await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 10_000);
    t.is(v.status, 'CANCELLED');
    t.is(v.statusInfo, 'user-requested');
    t.is(v.agentId ?? null, null, 'never placed on an agent');
  },
);
