import test from 'ava';
import { request } from 'node:http';
import { eventually } from '../helpers/eventually.js';
import { batch, startTestStack, type TestStack } from '../helpers/stack.js';

// SSE clients that go away at any moment — even while the server is still authenticating them
// or looking up their session — leave no subscription and no keep-alive timer behind, and
// never make the manager write to a stream it has closed. (One that left before the handler
// listened for 'close' kept both forever; the first fix then wrote after end and crashed.)

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ agents: 0 });
});
test.after.always(async () => {
  await stack?.close();
});

/** Sends a signed GET and cuts the connection as soon as the request is out. */
function sendAndLeave(path: string): Promise<void> {
  return new Promise((resolve) => {
    const url = new URL(path, stack.client.config.endpoint);
    const req = request(url, { method: 'GET', headers: stack.client.headers('GET', path, false) });
    // Expected: the cut makes the request fail on our side ("socket hang up").
    req.on('error', () => resolve());
    req.on('response', (res) => {
      res.destroy();
      resolve();
    });
    req.on('finish', () => {
      req.destroy();
      resolve();
    });
    req.end();
  });
}

test('event streams abandoned at any moment leave no listener in the hub', async (t) => {
  // A session to name: its lookup widens the window in which the client may already be gone.
  const made = await stack.client.request<{ sessionName: string }>(
    'POST',
    '/session',
    batch('true', { name: 'sse-abandoned' }),
  );
  const before = stack.manager.hub.listenerCount;
  const paths = [
    `/events/session?sessionName=${made.sessionName}&scope=*`,
    '/events/session?sessionName=*&scope=session',
  ];
  for (let round = 0; round < 5; round++)
    await Promise.all(Array.from({ length: 40 }, (_, i) => sendAndLeave(paths[i % 2]!)));
  // Streams that the client aborts after the answer began.
  await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), i % 16);
      try {
        const res = await stack.client.raw('GET', paths[i % 2]!, undefined, undefined, {}, abort.signal);
        abort.abort();
        // Expected: reading a body whose request was just aborted rejects; only the close matters.
        await res.body?.cancel().catch(() => undefined);
      } catch (err) {
        // Expected: the abort rejects the request itself when it comes before the answer.
        if (!abort.signal.aborted) throw err;
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  await eventually(() => stack.manager.hub.listenerCount === before, {
    timeoutMs: 60_000,
    message: () => `the hub back to ${before} listeners (has ${stack.manager.hub.listenerCount})`,
  });
  t.is(stack.manager.hub.listenerCount, before);
  // The manager still answers (a write after end would have thrown out of the process).
  t.is((await stack.client.request<{ version: string }>('GET', '/')).version.startsWith('v'), true);
});
