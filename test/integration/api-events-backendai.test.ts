import test from 'ava';
import { sseEvents, type SseEvent } from '../../src/cli/event-stream.js';
import { authorizationHeader, sign } from '../../src/domain/signing.js';
import { eventually } from '../helpers/eventually.js';
import { call, makeKeypair, slugOf, type TestKeypair } from '../helpers/api.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

// What Backend.AI's CLI sends for `events` and `watch`, replayed on the wire (its public source,
// client/func/session.py listen_events and request.py connect_events): a signed
// GET /events/session?<sessionName=NAME | sessionId=UUID>&scope=…, no Content-Type (signed as
// application/octet-stream), Date in Python's isoformat, X-BackendAI-Version and -Domain.
// Scope defaults: `events` '*' (22.03, 23.09 and newer), `watch` '*' (23.09), 'session,kernel' (newer).

const lines: { msg: string; extra?: Record<string, unknown> }[] = [];
const log = {
  info: (msg: string, extra?: Record<string, unknown>) => lines.push({ msg, extra }),
  error: (msg: string, extra?: Record<string, unknown>) => lines.push({ msg, extra }),
};

let stack: TestStack;
let user: TestKeypair;
test.before(async () => {
  stack = await startTestStack({ agents: 1, log });
  user = await makeKeypair(stack);
});
test.after.always(async () => {
  await stack?.close();
});

/** A GET signed as the Python client signs it; `pathWithQuery` is sent and signed as written. */
function backendAiGet(pathWithQuery: string, version: string, signal?: AbortSignal): Promise<Response> {
  const url = new URL(pathWithQuery, stack.manager.url);
  // Python's datetime.now(tzutc()).isoformat(): microseconds and +00:00.
  const date = new Date().toISOString().replace('Z', '000+00:00');
  const signature = sign(user.secretKey, {
    method: 'GET',
    pathWithQuery,
    date,
    host: url.host,
    contentType: undefined,
    apiVersion: version,
  });
  return fetch(url, {
    headers: {
      'User-Agent': 'Backend.AI Client for Python 23.09.11',
      'X-BackendAI-Domain': 'default',
      'X-BackendAI-Version': version,
      Date: date,
      Authorization: authorizationHeader(user.accessKey, signature),
    },
    signal,
  });
}

/**
 * Reads the stream as the CLI's `watch` does: exits at session_success / session_failure with
 * the event's exitCode, breaks at session_terminated or kernel_cancelled. Every event is kept.
 */
async function watchAsBackendAi(
  pathWithQuery: string,
  version: string,
): Promise<{ status: number; events: SseEvent[]; exitAt: SseEvent | null }> {
  const res = await backendAiGet(pathWithQuery, version, AbortSignal.timeout(180_000));
  const events: SseEvent[] = [];
  let exitAt: SseEvent | null = null;
  if (!res.ok || !res.body) return { status: res.status, events, exitAt };
  const reader = res.body.getReader();
  for await (const ev of sseEvents(reader)) {
    events.push(ev);
    if (!exitAt && (ev.event === 'session_success' || ev.event === 'session_failure')) exitAt = ev;
    if (ev.event === 'session_terminated' || ev.event === 'kernel_cancelled') break;
  }
  // Expected: the server may have closed the stream already; we are done reading either way.
  await reader.cancel().catch(() => {});
  return { status: res.status, events, exitAt };
}

test("Backend.AI's CLI `events`/`watch` on the wire: a failing batch job's session_failure with its exit code comes before session_terminated, with scope=* and scope=session,kernel", async (t) => {
  const created = await call<{ sessionId: string }>(
    user.client,
    'POST',
    '/session',
    batch('sleep 1; exit 3', { name: 'bai-cli-fail', starts_at: '2s' }),
  );
  t.is(created.status, 201);
  const id = created.body.sessionId;
  // Opened while the session waits for its start: each stream replays the past, then follows live.
  const streams = await Promise.all([
    // 22.03 `backend.ai events bai-cli-fail` (API v6.20220315, scope '*').
    watchAsBackendAi('/events/session?sessionName=bai-cli-fail&scope=*', 'v6.20220315'),
    // 23.09 `backend.ai watch <uuid>` (v7.20230615, scope '*').
    watchAsBackendAi(`/events/session?sessionId=${id}&scope=*`, 'v7.20230615'),
    // Newer `backend.ai watch <uuid>` (scope 'session,kernel'; it settles on the server's v8).
    watchAsBackendAi(`/events/session?sessionId=${id}&scope=session,kernel`, 'v8.20240915'),
  ]);
  for (const [i, s] of streams.entries()) {
    const names = s.events.map((e) => e.event);
    t.is(s.status, 200, `stream ${i}`);
    t.is(names[0], 'session_enqueued', `stream ${i}: ${names.join(',')}`);
    // Kernel events are in: both scopes are session and kernel.
    t.true(names.includes('kernel_started'), `stream ${i}: ${names.join(',')}`);
    t.true(names.includes('kernel_terminated'), `stream ${i}: ${names.join(',')}`);
    // The result first, then session_terminated: the CLI's watch exits with the job's exit code
    // instead of breaking at session_terminated as if all went well.
    t.is(s.exitAt?.event, 'session_failure', `stream ${i}: ${names.join(',')}`);
    t.is(s.exitAt?.data.exitCode, 3);
    t.is(s.exitAt?.data.sessionId, id);
    t.is(s.exitAt?.data.reason, 'task-failed');
    t.is(names.indexOf('session_failure'), names.indexOf('session_terminated') - 1, names.join(','));
    t.is(names.at(-1), 'session_terminated');
    const ids = s.events.map((e) => Number(e.id));
    t.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );
  }
  // The same order in a replay after the end (a CLI started late), and the ids agree.
  const late = await watchAsBackendAi(`/events/session?sessionId=${id}&scope=*`, 'v6.20220315');
  t.deepEqual(
    late.events.map((e) => `${e.id} ${e.event}`),
    streams[1]!.events.map((e) => `${e.id} ${e.event}`),
  );
  // scope=session leaves kernel events out; scope=kernel carries only them.
  const sessionOnly = await watchAsBackendAi(`/events/session?sessionId=${id}&scope=session`, 'v6.20220315');
  t.true(sessionOnly.events.every((e) => e.event.startsWith('session_')));
  t.is(sessionOnly.exitAt?.data.exitCode, 3);
});

test('a scope Backend.AI refuses is a 400 that names it; * and comma lists are accepted', async (t) => {
  await call(user.client, 'POST', '/session', batch('true', { name: 'scope-probe' }));
  for (const bad of ['everything', 'session,*', 'session,,kernel', 'kernels']) {
    const res = await backendAiGet(
      `/events/session?sessionName=scope-probe&scope=${encodeURIComponent(bad)}`,
      'v6.20220315',
    );
    t.is(res.status, 400, bad);
    const body = (await res.json()) as { type: string; msg: string };
    t.is(slugOf({ status: 400, body, headers: res.headers }), 'generic-bad-request');
    t.true(body.msg.includes(JSON.stringify(bad)), body.msg);
  }
  for (const ok of ['*', 'session,kernel', 'kernel,session', 'kernel', 'session']) {
    const ctl = new AbortController();
    const res = await backendAiGet(
      `/events/session?sessionName=scope-probe&scope=${ok}`,
      'v7.20230615',
      ctl.signal,
    );
    t.is(res.status, 200, ok);
    t.is(res.headers.get('content-type'), 'text/event-stream');
    ctl.abort();
  }
});

const ANSWER_KEYS = ['created', 'exitCode', 'result', 'servicePorts', 'sessionId', 'sessionName', 'status'];

test('maxWaitSeconds 0 waits without a limit of its own: the answer comes when the session runs, with Backend.AI’s fields', async (t) => {
  const r = await call<Record<string, unknown>>(user.client, 'POST', '/session', {
    ...batch('sleep 60', { name: 'wait-zero', starts_at: '3s' }),
    enqueueOnly: false,
    maxWaitSeconds: 0,
  });
  t.is(r.status, 201, JSON.stringify(r.body));
  // Backend.AI's sessionId, sessionName, status, servicePorts, created; bai adds result, exitCode.
  t.deepEqual(Object.keys(r.body).sort(), ANSWER_KEYS);
  t.like(r.body, { sessionName: 'wait-zero', status: 'RUNNING', servicePorts: [], created: true });
  t.is(r.body.result, 'UNDEFINED');
  t.is(r.body.exitCode, null);
  await call(user.client, 'DELETE', '/session/wait-zero');
  await waitForStatus(user.client, r.body.sessionId as string);
});

test('a create waiting with maxWaitSeconds 0 answers CANCELLED when its session is cancelled, and stops waiting when its client goes away', async (t) => {
  const pending = call<Record<string, unknown>>(user.client, 'POST', '/session', {
    ...batch('true', { name: 'wait-cancelled', starts_at: '1h' }),
    enqueueOnly: false,
    maxWaitSeconds: 0,
  });
  await eventually(async () => (await call(user.client, 'GET', '/session/wait-cancelled')).status === 200);
  t.is((await call(user.client, 'DELETE', '/session/wait-cancelled')).status, 200);
  const answer = await pending;
  t.is(answer.status, 201);
  t.deepEqual(Object.keys(answer.body).sort(), ANSWER_KEYS);
  t.like(answer.body, { sessionName: 'wait-cancelled', status: 'CANCELLED', created: true });

  // A client that gives up: the manager's wait ends with it (no listener left behind).
  const ctl = new AbortController();
  const gone = user.client
    .raw(
      'POST',
      '/session',
      { ...batch('true', { name: 'wait-gone', starts_at: '1h' }), enqueueOnly: false, maxWaitSeconds: 0 },
      undefined,
      {},
      ctl.signal,
    )
    // Expected: the request is aborted below.
    .catch((err: unknown) => err);
  const s = await eventually(async () => {
    const r = await call<{ sessionId: string }>(user.client, 'GET', '/session/wait-gone');
    return r.status === 200 ? r.body : null;
  });
  ctl.abort();
  await gone;
  await eventually(
    () =>
      lines.some(
        (l) => l.msg === 'create wait ended: the client went away' && l.extra?.sessionId === s.sessionId,
      ),
    { message: 'the manager to end the wait of the client that went away' },
  );
  // The session itself stays, as Backend.AI's does: going away does not cancel it.
  t.is((await call<{ status: string }>(user.client, 'GET', '/session/wait-gone')).body.status, 'PENDING');
  await call(user.client, 'DELETE', '/session/wait-gone');
});
