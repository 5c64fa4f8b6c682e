import test from 'ava';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * A dispatch pass reads a page of the sessions that can run but for capacity (here 2,
 * BAI_DISPATCH_PAGE), and the rest only when the page leaves an agent a later one could use:
 * those after the page still say why they wait, a session after the page runs as soon as an
 * agent can take it, and the order is the one a whole read gives.
 */
let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({
    manager: { dispatchPage: 2 },
    agent: { slots: { cpu: 4, mem: 4 * 1024 ** 3 } },
  });
});
test.after.always(async () => {
  await stack?.close();
});

const create = (body: Record<string, unknown>) =>
  stack.client.request<{ sessionId: string }>('POST', '/session', body).then((r) => r.sessionId);
const get = (id: string) => stack.client.request<SessionWire>('GET', `/session/${id}`);
const withCpu = (name: string, command: string, cpu: number) =>
  batch(command, { name, config: { resources: { cpu, mem: '64m' } } });
const predicatesOf = (v: SessionWire) =>
  ((v.statusData as { predicates?: { name: string }[] }).predicates ?? []).map((p) => p.name);
const cancel = (id: string) => stack.client.request('DELETE', `/session/${id}`).catch(() => undefined);

test.serial(
  'sessions after the page say they wait for capacity, and all run in the order they came',
  async (t) => {
    // Four blockers fill the agent's four cpus; of the four that wait, two are read with the
    // page and two come after it.
    const blockers: string[] = [];
    for (let i = 0; i < 4; i++) blockers.push(await create(withCpu(`page-blocker-${i}`, 'sleep 300', 1)));
    await Promise.all(blockers.map((id) => waitForStatus(stack.client, id, ['RUNNING'], 60_000)));
    const ids: string[] = [];
    try {
      for (let i = 0; i < 4; i++) ids.push(await create(withCpu(`page-${i}`, 'true', 1)));
      const last = ids[ids.length - 1]!;
      const until = Date.now() + 30_000;
      let seen = await get(last);
      while (!predicatesOf(seen).includes('capacity') && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 100));
        seen = await get(last);
      }
      t.is(seen.status, 'PENDING');
      t.deepEqual(predicatesOf(seen), ['capacity'], 'after the page, it said it waits for capacity');
      for (const id of blockers) t.is((await get(id)).status, 'RUNNING', 'no slot had freed meanwhile');
    } finally {
      for (const id of blockers) await cancel(id);
    }
    const done = await Promise.all(
      ids.map((id) => waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 90_000)),
    );
    for (const v of done) t.is(`${v.status} ${v.result}`, 'TERMINATED SUCCESS', v.sessionName);
    const scheduledAt = done.map((v) => Date.parse(v.statusHistory.SCHEDULED!));
    for (let i = 1; i < scheduledAt.length; i++)
      t.true(scheduledAt[i]! >= scheduledAt[i - 1]!, `page-${i} was placed before page-${i - 1}`);
    for (const id of blockers) await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 60_000);
  },
);

test.serial('a page that leaves an agent open is read past: a session after it runs at once', async (t) => {
  // A second agent with one cpu; the first (four cpus) is kept busy with three.
  await stack.addAgent({ slots: { cpu: 1, mem: 4 * 1024 ** 3 } });
  const blocker = await create(withCpu('page-blocker', 'sleep 300', 3));
  await waitForStatus(stack.client, blocker, ['RUNNING'], 60_000);
  // The page: two sessions of four cpus. The first reserves the four-cpu agent; the second no
  // agent can ever hold alone but that one, so the one-cpu agent stays open for what follows.
  const bigs = [
    await create(withCpu('page-big-0', 'true', 4)),
    await create(withCpu('page-big-1', 'true', 4)),
  ];
  const small = await create(withCpu('page-small', 'echo small', 1));
  try {
    const v = await waitForStatus(stack.client, small, ['TERMINATED', 'CANCELLED'], 60_000);
    t.is(`${v.status} ${v.result}`, 'TERMINATED SUCCESS');
    t.is((await get(blocker)).status, 'RUNNING', 'the small session ran while the big ones still waited');
    for (const id of bigs) t.is((await get(id)).status, 'PENDING');
  } finally {
    for (const id of [blocker, ...bigs]) await cancel(id);
  }
  for (const id of [blocker, ...bigs])
    await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 60_000);
});
