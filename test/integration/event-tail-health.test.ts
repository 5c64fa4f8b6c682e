import test from 'ava';
import { until } from '../helpers/eventually.js';
import { call, openSse } from '../helpers/api.js';
import { batch, startTestStack, type TestStack } from '../helpers/stack.js';

interface Health {
  ok: boolean;
  eventTail: { ok: boolean; since: string; lastError: string | null };
}

const lines: { level: string; msg: string; extra?: Record<string, unknown> }[] = [];
const log = {
  info: (msg: string, extra?: Record<string, unknown>) => lines.push({ level: 'info', msg, extra }),
  error: (msg: string, extra?: Record<string, unknown>) => lines.push({ level: 'error', msg, extra }),
};

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ agents: 0, log });
});
test.after.always(async () => {
  await stack?.close();
});

async function health(): Promise<{ status: number; body: Health }> {
  const res = await fetch(`${stack.manager.url}/health`);
  return { status: res.status, body: (await res.json()) as Health };
}

test('the event tail logs a failing read, /health reports it, and SSE resumes when PostgreSQL answers again', async (t) => {
  const before = await health();
  t.is(before.status, 200);
  t.true(before.body.eventTail.ok);

  // The tail's table disappears for a while (real PostgreSQL: every read fails with 42P01).
  await stack.manager.db.raw('ALTER TABLE session_events RENAME TO session_events_away');
  let restored = false;
  try {
    const down = await until('health to say the tail fails', async () => {
      const h = await health();
      return h.status === 503 ? h : null;
    });
    t.false(down.body.ok);
    t.false(down.body.eventTail.ok);
    t.is(down.body.eventTail.lastError, '42P01');
    t.true(Date.parse(down.body.eventTail.since) >= Date.parse(before.body.eventTail.since));
    const failure = lines.find((l) => l.level === 'error' && /event tail/.test(l.msg));
    t.truthy(failure, 'the failure is logged');
    t.is(typeof failure!.extra?.after, 'number');
    t.is(typeof failure!.extra?.retryInMs, 'number');
    t.regex(String(failure!.extra?.err), /session_events/);
    await stack.manager.db.raw('ALTER TABLE session_events_away RENAME TO session_events');
    restored = true;
  } finally {
    if (!restored) await stack.manager.db.raw('ALTER TABLE session_events_away RENAME TO session_events');
  }

  const up = await until('health to recover', async () => {
    const h = await health();
    return h.status === 200 ? h : null;
  });
  t.true(up.body.eventTail.ok);
  t.is(up.body.eventTail.lastError, '42P01', 'the last failure stays visible');
  t.true(lines.some((l) => l.level === 'info' && l.msg === 'event tail recovered'));

  // Events flow again: a new session's first event reaches an SSE stream.
  const sse = await openSse(stack.client, { sessionName: '*' });
  try {
    const created = await call<{ sessionId: string }>(stack.client, 'POST', '/session', batch('true'));
    t.is(created.status, 201);
    const frame = await sse.until((f) => f.data.sessionId === created.body.sessionId, 15_000);
    t.truthy(frame);
  } finally {
    sse.close();
  }
});
