import test from 'ava';
import { eventually } from '../helpers/eventually.js';
import { batch, startTestStack, type TestStack } from '../helpers/stack.js';

// SSE clients that go away at any moment — even while the server is still looking up their
// session — leave no subscription and no keep-alive timer behind. (One that left before the
// handler listened for 'close' kept both forever: a leak per abandoned stream in a manager,
// and a test process that never exited.)

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ agents: 0 });
});
test.after.always(async () => {
  await stack?.close();
});

test('event streams abandoned at any moment leave no listener in the hub', async (t) => {
  // A session to name: its lookup is the window in which a client may already have gone.
  const made = await stack.client.request<{ sessionName: string }>(
    'POST',
    '/session',
    batch('true', { name: 'sse-abandoned' }),
  );
  const before = stack.manager.hub.listenerCount;
  const attempts = Array.from({ length: 80 }, async (_, i) => {
    const abort = new AbortController();
    // Aborts spread from "at once" to a few ms in: before, during and after the lookups.
    const timer = setTimeout(() => abort.abort(), i % 16);
    try {
      const res = await stack.client.raw(
        'GET',
        '/events/session',
        undefined,
        { sessionName: made.sessionName, scope: '*' },
        {},
        abort.signal,
      );
      abort.abort();
      // Expected: reading a body whose request was just aborted rejects; only the close matters.
      await res.body?.cancel().catch(() => undefined);
    } catch (err) {
      // Expected: the abort rejects the request itself when it comes before the answer.
      if (!abort.signal.aborted) throw err;
    } finally {
      clearTimeout(timer);
    }
  });
  await Promise.all(attempts);
  await eventually(() => stack.manager.hub.listenerCount === before, {
    timeoutMs: 60_000,
    message: () => `the hub back to ${before} listeners (has ${stack.manager.hub.listenerCount})`,
  });
  t.is(stack.manager.hub.listenerCount, before);
});
