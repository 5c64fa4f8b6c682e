import test from 'ava';
import { eventually } from '../helpers/eventually.js';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';
import { call, makeKeypair, openSse, type SseFrame, type TestKeypair } from '../helpers/api.js';

let stack: TestStack;
let user: TestKeypair;
test.before(async () => {
  // The test's callback listener is on loopback: allowed as an operator would allow an internal host.
  stack = await startTestStack({ agents: 1, manager: { callbackAllowList: ['127.0.0.1'] } });
  user = await makeKeypair(stack);
});
test.after.always(async () => {
  await stack?.close();
});

const LIFECYCLE = [
  'session_enqueued',
  'session_scheduled',
  'session_preparing',
  'session_pulling',
  'session_prepared',
  'session_creating',
  'session_started',
];

test('an SSE client follows a real batch session from session_enqueued to session_terminated, exit code in data', async (t) => {
  const created = await call<{ sessionId: string }>(
    user.client,
    'POST',
    '/session',
    batch('sleep 1; echo done; exit 7', { name: 'sse-follow', starts_at: '1s' }),
  );
  const stream = await openSse(user.client, { sessionName: 'sse-follow' });
  t.is(stream.status, 200);
  const terminated = await stream.until((f) => f.event === 'session_terminated');
  const failure = await stream.until((f) => f.event === 'session_failure');
  stream.close();
  const names = stream.frames.map((f) => f.event);
  // The result comes first, as in Backend.AI (its CLI's watch stops at session_terminated).
  t.is(names.indexOf('session_failure'), names.indexOf('session_terminated') - 1);
  t.is(names[0], 'session_enqueued');
  // The happy-path events that were emitted come in order; started precedes the end.
  const seen = LIFECYCLE.filter((n) => names.includes(n));
  t.deepEqual(
    seen,
    names.filter((n) => LIFECYCLE.includes(n)),
  );
  t.true(names.includes('session_started'));
  t.true(names.indexOf('session_started') < names.indexOf('session_terminated'));
  t.is(terminated.data.exitCode, 7);
  t.is(terminated.data.sessionId, created.body.sessionId);
  t.is(terminated.data.sessionName, 'sse-follow');
  t.is(terminated.data.ownerAccessKey, user.accessKey);
  t.is(terminated.data.reason, 'task-failed');
  t.is(failure.data.exitCode, 7);
  // Ids increase: they are the event log's ids, which Last-Event-ID refers to.
  const ids = stream.frames.map((f) => f.id);
  t.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
  );
  t.is(new Set(ids).size, ids.length);
  // Scope kernel: only kernel_* events, with kernel ids.
  const kernels = await openSse(user.client, { sessionId: created.body.sessionId, scope: 'kernel' });
  const kt = await kernels.until((f) => f.event === 'kernel_terminated');
  kernels.close();
  t.true(kernels.frames.every((f) => f.event.startsWith('kernel_')));
  t.truthy(kt.data.kernelId);
  t.is(kt.data.exitCode, 7);
});

test('a reconnect with Last-Event-ID loses nothing and repeats nothing', async (t) => {
  const created = await call<{ sessionId: string }>(
    user.client,
    'POST',
    '/session',
    batch('sleep 1; echo ok', { name: 'sse-resume', starts_at: '1s' }),
  );
  const first = await openSse(user.client, { sessionId: created.body.sessionId, scope: '*' });
  const firstSeen = await first.until((f) => f.event === 'session_enqueued');
  first.close(); // the client drops off right after the first event
  const s = await waitForStatus(user.client, created.body.sessionId);
  t.is(s.result, 'SUCCESS');
  // Reconnect after the session ended: everything after the last id seen, then live.
  const resumed = await openSse(user.client, { sessionId: created.body.sessionId, scope: '*' }, firstSeen.id);
  await resumed.until((f) => f.event === 'session_terminated');
  resumed.close();
  const whole = await openSse(user.client, { sessionId: created.body.sessionId, scope: '*' });
  await whole.until((f) => f.event === 'session_terminated');
  whole.close();
  const key = (f: SseFrame) => `${f.id} ${f.event}`;
  const joined = [...first.frames.filter((f) => f.id <= firstSeen.id), ...resumed.frames].map(key);
  t.deepEqual(joined, whole.frames.map(key));
  t.false(resumed.frames.some((f) => f.id <= firstSeen.id));
  t.true(resumed.frames.some((f) => f.event === 'session_terminated' && f.data.exitCode === 0));
  const ended = resumed.frames.map((f) => f.event).slice(-2);
  t.deepEqual(ended, ['session_success', 'session_terminated']);
});

test('a stream of all of a keypair’s sessions (sessionName=*) follows sessions created after it opened', async (t) => {
  const other = await makeKeypair(stack);
  const all = await openSse(other.client, { sessionName: '*' });
  const mine = await call<{ sessionId: string }>(
    other.client,
    'POST',
    '/session',
    batch('true', { name: 'star-live' }),
  );
  const ended = await all.until((f) => f.event === 'session_terminated');
  all.close();
  t.is(ended.data.sessionId, mine.body.sessionId);
  t.true(all.frames.every((f) => f.data.ownerAccessKey === other.accessKey));
});

interface Hit {
  headers: IncomingHttpHeaders;
  body: string;
  answered: number;
}

test('callbacks reach a local HTTP server in order, a 500 is retried, and X-Bai-Signature verifies', async (t) => {
  const hits: Hit[] = [];
  let failuresLeft = 1;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const answered = failuresLeft > 0 ? 500 : 200;
      if (failuresLeft > 0) failuresLeft -= 1;
      hits.push({ headers: req.headers, body, answered });
      res.statusCode = answered;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  const created = await call<{ sessionId: string }>(
    user.client,
    'POST',
    '/session',
    batch('sleep 1; echo hook', { name: 'hooked-job', callback_url: `http://127.0.0.1:${port}/hook?job=1` }),
  );
  t.is(created.status, 201);
  await waitForStatus(user.client, created.body.sessionId);
  await eventually(() => hits.some((h) => h.answered === 200 && JSON.parse(h.body).event === 'terminated'), {
    message: () => `the terminated callback (callbacks: ${hits.map((h) => h.body).join('\n')})`,
  });
  const { body: me } = await call<{ webhook_secret: string }>(user.client, 'GET', '/keypairs/me');
  for (const h of hits) {
    const expected = `sha256=${createHmac('sha256', me.webhook_secret).update(h.body).digest('hex')}`;
    t.is(h.headers['x-bai-signature'], expected);
    t.is(h.headers['content-type'], 'application/json');
  }
  // The first delivery failed with 500 and came again, before anything after it.
  t.is(hits[0]!.answered, 500);
  t.is(hits[1]!.body, hits[0]!.body);
  t.is(hits[1]!.headers['x-bai-delivery'], hits[0]!.headers['x-bai-delivery']);
  const delivered = hits
    .filter((h) => h.answered === 200)
    .map((h) => JSON.parse(h.body) as Record<string, unknown>);
  const events = delivered.map((d) => d.event);
  t.is(events[0], 'enqueued');
  t.true(events.indexOf('started') > 0);
  // The result before terminated, as on the event stream.
  t.deepEqual(events.slice(-2), ['success', 'terminated']);
  t.true(events.indexOf('success') > events.indexOf('started'));
  for (const d of delivered) {
    t.is(d.type, 'session_lifecycle');
    t.is(d.session_id, created.body.sessionId);
  }
  t.is(delivered.find((d) => d.event === 'terminated')!.exit_code, 0);
  const ids = hits.filter((h) => h.answered === 200).map((h) => Number(h.headers['x-bai-delivery']));
  t.deepEqual(
    ids,
    [...ids].sort((a, b) => a - b),
  );
  // A signature made with another secret does not verify.
  const forged = `sha256=${createHmac('sha256', 'not-the-secret').update(hits[0]!.body).digest('hex')}`;
  t.not(hits[0]!.headers['x-bai-signature'], forged);
});
