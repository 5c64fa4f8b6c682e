import test from 'ava';
import { until } from '../helpers/eventually.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * An agent gives its garbage back once it has gone idle after sessions (idle-trim.ts): one full
 * collection a quiet check interval after its last session ended (unit idle-trim: none while a
 * session runs, one a burst).
 */
let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ agents: 1 });
});
test.after.always(async () => {
  await stack?.close();
});

test('one collection once the agent is idle after a session', async (t) => {
  const agent = stack.agents[0]!;
  t.is(agent.idleCollections, 0, 'none before any session');
  const { sessionId } = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('sleep 1', { name: 'idle-trim' }),
  );
  t.is((await waitForStatus(stack.client, sessionId)).result, 'SUCCESS');
  await until('the idle collection', () => agent.idleCollections > 0);
  t.is(agent.idleCollections, 1, 'once: nothing came since');
});
