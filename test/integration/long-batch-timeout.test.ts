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

const logs = async (id: string) =>
  (await stack.client.request<{ result: { logs: string } }>('GET', `/session/${id}/logs`)).result.logs;

test('a 30-day batch timeout does not fire at once: the job runs on, and is cancelled normally', async (t) => {
  // Past 2^31 ms, a raw setTimeout fires after 1 ms: the job would be killed as it starts.
  const { sessionId } = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('for i in $(seq 1 600); do echo tick $i; sleep 0.2; done', { batch_timeout: '30d' }),
  );
  await waitForStatus(stack.client, sessionId, ['RUNNING', 'TERMINATED', 'CANCELLED'], 60_000);
  // It keeps running well after its start: a line printed seconds in is seen while it is RUNNING.
  let seen = '';
  await holdsWithin(async () => /tick 15\n/.test((seen = await logs(sessionId))), { intervalMs: 200 });
  t.regex(seen, /tick 15\n/);
  const running = await stack.client.request<SessionWire>('GET', `/session/${sessionId}`);
  t.is(running.status, 'RUNNING', `${running.status} ${running.statusInfo}`);

  await stack.client.request('DELETE', `/session/${sessionId}`);
  const done = await waitForStatus(stack.client, sessionId, ['TERMINATED', 'CANCELLED'], 60_000);
  t.is(done.statusInfo, 'user-requested');
  t.notRegex(JSON.stringify(done.statusData), /[Bb]atch timeout/);
});
