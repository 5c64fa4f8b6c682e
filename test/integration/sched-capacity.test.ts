import test from 'ava';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ agent: { slots: { cpu: 4, mem: 8 * 1024 ** 3 } } });
});
test.after.always(async () => {
  await stack?.close();
});

const create = (body: Record<string, unknown>) =>
  stack.client.request<{ sessionId: string }>('POST', '/session', body).then((r) => r.sessionId);
const get = (id: string) => stack.client.request<SessionWire>('GET', `/session/${id}`);
const small = (name: string, secs = 1) =>
  batch(`sleep ${secs}`, { name, config: { resources: { cpu: 1, mem: '64m' } } });

test.serial(
  'a 4-cpu session on a 4-cpu agent busy with 1-cpu sessions starts while 1-cpu ones keep arriving',
  async (t) => {
    const before: string[] = [];
    for (let i = 0; i < 4; i++) before.push(await create(small(`small-before-${i}`, 5)));
    await Promise.all(before.map((id) => waitForStatus(stack.client, id, ['RUNNING', 'TERMINATED'], 30_000)));
    const big = await create(
      batch('echo big', { name: 'big-one', config: { resources: { cpu: 4, mem: '64m' } } }),
    );

    // A stream of small sessions keeps arriving while the big one waits.
    const after: string[] = [];
    let sawCapacity = false;
    let bigView = await get(big);
    const until = Date.now() + 40_000;
    while (!['RUNNING', 'TERMINATED', 'CANCELLED'].includes(bigView.status) && Date.now() < until) {
      after.push(await create(small(`small-after-${after.length}`)));
      bigView = await get(big);
      const preds = (bigView.statusData as { predicates?: { name: string }[] }).predicates ?? [];
      if (bigView.status === 'PENDING' && preds.some((p) => p.name === 'capacity')) sawCapacity = true;
      await new Promise((r) => setTimeout(r, 300));
    }
    t.true(sawCapacity, 'while it waited, the big session showed the failed capacity predicate');
    const done = await waitForStatus(stack.client, big, ['TERMINATED', 'CANCELLED'], 40_000);
    t.is(done.result, 'SUCCESS', `big: ${done.status} ${done.statusInfo} ${JSON.stringify(done.statusData)}`);
    t.true(after.length > 0, 'small sessions arrived while the big one waited');

    // No small session submitted after the big one overtook it: the agent was reserved for it.
    const bigStart = Date.parse(done.kernels[0]!.startedAt!);
    for (const id of after) {
      const v = await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 40_000);
      t.is(v.result, 'SUCCESS');
      t.true(
        Date.parse(v.kernels[0]!.startedAt!) >= bigStart,
        `${v.sessionName} started ${bigStart - Date.parse(v.kernels[0]!.startedAt!)} ms before the big session`,
      );
    }
  },
);

test.serial('a session whose predicate fails does not block the ones behind it', async (t) => {
  const later = await create(batch('echo later', { name: 'hol-later', starts_at: '20s' }));
  const parent = await create(batch('sleep 30', { name: 'hol-parent' }));
  const child = await create(batch('echo child', { name: 'hol-child', dependencies: [parent] }));
  const free = await create(batch('echo free', { name: 'hol-free' }));
  const v = await waitForStatus(stack.client, free, ['TERMINATED', 'CANCELLED'], 30_000);
  t.is(v.result, 'SUCCESS');
  const c = await get(child);
  t.is(c.status, 'PENDING');
  t.deepEqual(
    ((c.statusData as { predicates?: { name: string }[] }).predicates ?? []).map((p) => p.name),
    ['dependencies'],
  );
  for (const id of [later, parent, child]) await stack.client.request('DELETE', `/session/${id}`);
  const gone = await waitForStatus(stack.client, later, ['TERMINATED', 'CANCELLED'], 30_000);
  t.is(gone.kernels[0]?.startedAt ?? null, null);
});
