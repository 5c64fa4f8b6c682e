import test from 'ava';
import { holdsWithin } from '../helpers/eventually.js';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack();
});
test.after.always(async () => {
  await stack?.close();
});

const create = (body: Record<string, unknown>) =>
  stack.client.request<{ sessionId: string }>('POST', '/session', body).then((r) => r.sessionId);

test.serial('a chain A → B → C with A failing: B and C end CANCELLED dependency-failed', async (t) => {
  const a = await create(batch('sleep 1; exit 4', { name: 'chain-a' }));
  const b = await create(batch('echo b', { name: 'chain-b', dependencies: [a] }));
  const c = await create(batch('echo c', { name: 'chain-c', dependencies: [b] }));

  // While A runs, B says what it waits for.
  let waitingB = null as SessionWire | null;
  await holdsWithin(
    async () => {
      const v = await stack.client.request<SessionWire>('GET', `/session/${b}`);
      const preds = (v.statusData as { predicates?: { name: string }[] }).predicates ?? [];
      if (preds.some((p) => p.name === 'dependencies')) waitingB = v;
      return waitingB !== null;
    },
    { intervalMs: 50 },
  );
  t.truthy(waitingB, 'B shows the dependencies predicate while A runs');
  t.is(waitingB?.status, 'PENDING');

  const va = await waitForStatus(stack.client, a);
  t.is(va.result, 'FAILURE');
  t.is(va.exitCode, 4);
  for (const id of [b, c]) {
    const v = await waitForStatus(stack.client, id);
    t.is(v.status, 'CANCELLED', `${v.sessionName}`);
    t.is(v.statusInfo, 'dependency-failed', `${v.sessionName}`);
    t.is(v.result, 'FAILURE');
    t.is(v.kernels[0]?.startedAt ?? null, null, `${v.sessionName} never started`);
  }
});

test.serial('a chain whose links succeed runs in order, each after the one before ended', async (t) => {
  const a = await create(batch('echo a', { name: 'ok-a' }));
  const b = await create(batch('echo b', { name: 'ok-b', dependencies: [a] }));
  const c = await create(batch('echo c', { name: 'ok-c', dependencies: [b, a] }));
  const [va, vb, vc] = [
    await waitForStatus(stack.client, a),
    await waitForStatus(stack.client, b),
    await waitForStatus(stack.client, c),
  ];
  for (const v of [va, vb, vc]) t.is(v.result, 'SUCCESS', `${v.sessionName}: ${v.statusInfo}`);
  const ended = (v: SessionWire) => Date.parse(v.terminationTime as string);
  t.true(Date.parse(vb.kernels[0]!.startedAt!) >= ended(va), 'B started after A ended');
  t.true(Date.parse(vc.kernels[0]!.startedAt!) >= ended(vb), 'C started after B ended');
});
