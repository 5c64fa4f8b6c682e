import test from 'ava';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { IdempotencyStore } from '../../src/persistence/idempotency-store.js';
import { bai } from '../helpers/cli.js';
import { testEnv } from '../helpers/env.js';
import { StartCounter } from '../helpers/faults.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';
import { call, makeKeypair, slugOf, type TestKeypair } from '../helpers/api.js';

// Idempotency-Key on POST /session (issue 15), against a real manager, PostgreSQL and Docker.

type Created = {
  sessionId: string;
  sessionName: string;
  status: string;
  created: boolean;
  result?: string;
  exitCode?: number | null;
};

let stack: TestStack;
let starts: StartCounter;
test.before(async () => {
  stack = await startTestStack({ agents: 1 });
  starts = new StartCounter(testEnv().dockerHost, `t${stack.id}-`);
  await starts.attached();
});
test.after.always(async () => {
  starts?.stop();
  await stack?.close();
});

const keyed = (key: string) => ({ 'Idempotency-Key': key });

function create(kp: TestKeypair, body: unknown, key?: string) {
  return call<Created>(kp.client, 'POST', '/session', body, undefined, key === undefined ? {} : keyed(key));
}

async function sessionCount(kp: TestKeypair): Promise<number> {
  const r = await call<{ total: number }>(kp.client, 'GET', '/sessions');
  return r.body.total;
}

/** Ages a key past the retention, as the days would. */
async function age(accessKey: string, key: string, days: number): Promise<void> {
  const { db } = stack.database;
  const n = await db('idempotency_keys')
    .where({ access_key: accessKey, key })
    .update({ created_at: db.raw(`now() - (? * interval '1 day')`, [days]) });
  if (n !== 1) throw new Error(`no key ${key} to age`);
}

test.serial('the same key after the session ended answers that session and starts nothing new', async (t) => {
  const kp = await makeKeypair(stack);
  const body = batch('echo once', { tag: 'nightly' });
  const first = await create(kp, body, 'nightly-2026-11-29');
  t.is(first.status, 201);
  t.true(first.body.created);
  const id = first.body.sessionId;
  const ended = await waitForStatus(kp.client, id);
  t.is(ended.result, 'SUCCESS');
  t.true(await starts.seen([id]), 'its container was seen starting');

  // Again with the header, and with the body field in another key order (a client without headers).
  const again = await create(kp, body, 'nightly-2026-11-29');
  t.is(again.status, 201, 'the status code of a reused session');
  t.like(again.body, { sessionId: id, created: false, status: 'TERMINATED', result: 'SUCCESS', exitCode: 0 });
  const reordered = { tag: 'nightly', idempotencyKey: 'nightly-2026-11-29', ...body };
  const viaBody = await create(kp, reordered);
  t.like(viaBody.body, { sessionId: id, created: false });
  const viaSnake = await create(kp, { ...body, idempotency_key: 'nightly-2026-11-29' }, 'nightly-2026-11-29');
  t.like(viaSnake.body, { sessionId: id, created: false });

  t.is(await sessionCount(kp), 1, 'no second session');
  // A session after the replays: once its start is seen, no start of another one can be pending.
  const marker = await create(kp, batch('echo marker'));
  await waitForStatus(kp.client, marker.body.sessionId);
  t.true(await starts.seen([marker.body.sessionId]));
  t.is(starts.starts.get(id), 1, 'the first session ran once');
  t.deepEqual(
    [...starts.starts.keys()].filter((s) => s !== id && s !== marker.body.sessionId),
    [],
    'no other container started',
  );
});

test.serial('the same key with another body is a 422 naming the session; bad keys are 400s', async (t) => {
  const kp = await makeKeypair(stack);
  const first = await create(kp, batch('true', { starts_at: '2h' }), 'conflict-1');
  t.true(first.body.created);
  const other = await create(kp, batch('echo other', { starts_at: '2h' }), 'conflict-1');
  t.is(other.status, 422);
  t.is(slugOf(other), 'idempotency-key-conflict');
  t.like(other.body as unknown as { data: unknown }, {
    data: { sessionId: first.body.sessionId, idempotencyKey: 'conflict-1' },
  });
  // The relative starts_at is compared as sent: the same request later is still the same.
  const same = await create(kp, batch('true', { starts_at: '2h' }), 'conflict-1');
  t.like(same.body, { sessionId: first.body.sessionId, created: false, status: 'PENDING' });

  const both = await create(kp, { ...batch('true'), idempotencyKey: 'a' }, 'b');
  t.is(both.status, 400);
  t.is(slugOf(both), 'generic-bad-request');
  t.regex(String((both.body as unknown as { msg: string }).msg), /differ/);
  for (const bad of [
    { idempotencyKey: 'x'.repeat(256) },
    { idempotencyKey: '' },
    { idempotency_key: 'a\u001bb' },
  ]) {
    const r = await create(kp, { ...batch('true'), ...bad });
    t.is(r.status, 400, JSON.stringify(bad));
    t.is(slugOf(r), 'generic-bad-request');
  }
  t.is(await sessionCount(kp), 1);
});

test.serial('20 concurrent requests with one key create exactly one session', async (t) => {
  const kp = await makeKeypair(stack);
  const named = await makeKeypair(stack);
  // One burst with a bare key, one with a name as well (its losers may meet the live name first).
  const [bare, withName] = await Promise.all([
    Promise.all(Array.from({ length: 20 }, () => create(kp, batch('true', { starts_at: '2h' }), 'burst'))),
    Promise.all(
      Array.from({ length: 20 }, () =>
        create(named, batch('true', { starts_at: '2h', name: 'burst-job' }), 'burst'),
      ),
    ),
  ]);
  for (const answers of [bare, withName]) {
    t.deepEqual(
      answers.map((a) => a.status),
      Array(20).fill(201),
      JSON.stringify(answers.find((a) => a.status !== 201)?.body),
    );
    t.is(new Set(answers.map((a) => a.body.sessionId)).size, 1, 'every answer names one session');
    t.is(answers.filter((a) => a.body.created).length, 1, 'one answer created it');
  }
  t.not(bare[0]!.body.sessionId, withName[0]!.body.sessionId, 'one session per keypair');
  t.is(await sessionCount(kp), 1);
  t.is(await sessionCount(named), 1);
  const rows = await stack.database
    .db('sessions')
    .whereIn('access_key', [kp.accessKey, named.accessKey])
    .count<{ count: string }[]>({ count: '*' });
  t.is(Number(rows[0]!.count), 2);
});

test.serial(
  'an array job with a key, sent 10 times at once and again: one parent and its children',
  async (t) => {
    const kp = await makeKeypair(stack);
    const body = batch('true', { starts_at: '2h', array: '0-4' });
    const answers = await Promise.all(Array.from({ length: 10 }, () => create(kp, body, 'array-burst')));
    t.deepEqual(
      answers.map((a) => a.status),
      Array(10).fill(201),
      JSON.stringify(answers.find((a) => a.status !== 201)?.body),
    );
    t.is(new Set(answers.map((a) => a.body.sessionId)).size, 1, 'every answer names one parent');
    t.is(answers.filter((a) => a.body.created).length, 1, 'one answer created it');
    const again = await create(kp, body, 'array-burst');
    t.like(again.body, { sessionId: answers[0]!.body.sessionId, created: false });
    const rows = await stack.database
      .db('sessions')
      .where({ access_key: kp.accessKey })
      .select('array_parent_id', 'array_size');
    t.is(rows.filter((r) => r.array_size === 5).length, 1, 'one parent');
    t.is(rows.filter((r) => r.array_parent_id === answers[0]!.body.sessionId).length, 5, 'its five children');
    t.is(rows.length, 6, 'nothing else');
  },
);

test.serial('a key older than the retention is free again; expired keys are pruned', async (t) => {
  const kp = await makeKeypair(stack);
  const body = batch('true', { starts_at: '2h' });
  const first = await create(kp, body, 'weekly');
  await age(kp.accessKey, 'weekly', 8);
  const after = await create(kp, body, 'weekly');
  t.is(after.status, 201);
  t.true(after.body.created, 'a key past the 7 days counts as absent');
  t.not(after.body.sessionId, first.body.sessionId);
  // The key now names the new session; another body is a conflict with it, not with the old one.
  const again = await create(kp, body, 'weekly');
  t.like(again.body, { sessionId: after.body.sessionId, created: false });
  const conflict = await create(kp, batch('false', { starts_at: '2h' }), 'weekly');
  t.like(conflict.body as unknown as { data: unknown }, { data: { sessionId: after.body.sessionId } });

  await create(kp, body, 'stale');
  await age(kp.accessKey, 'stale', 30);
  const store = new IdempotencyStore(stack.database.db, stack.managerConfig.idempotencyRetentionSeconds);
  t.true((await store.prune()) >= 1);
  const left = await stack.database.db('idempotency_keys').where({ access_key: kp.accessKey }).pluck('key');
  t.deepEqual(left, ['weekly']);
});

test.serial('a key belongs to its keypair: another keypair with it gets its own session', async (t) => {
  const a = await makeKeypair(stack);
  const b = await makeKeypair(stack);
  const body = batch('true', { starts_at: '2h' });
  const ra = await create(a, body, 'shared-key');
  const rb = await create(b, body, 'shared-key');
  t.true(ra.body.created);
  t.true(rb.body.created);
  t.not(ra.body.sessionId, rb.body.sessionId);
  t.like((await create(b, body, 'shared-key')).body, { sessionId: rb.body.sessionId, created: false });
  // An admin acting for `a` uses a's key (the key is the owner's, whoever sends it).
  const forA = await call<Created>(
    stack.client,
    'POST',
    '/session',
    { ...body, owner_access_key: a.accessKey },
    undefined,
    keyed('shared-key'),
  );
  t.is(forA.status, 422, 'a different body (owner_access_key) under a key a holds');
  t.is(slugOf(forA), 'idempotency-key-conflict');
});

test.serial('a live session reused by name is what its key answers after it ended', async (t) => {
  const kp = await makeKeypair(stack);
  const plain = await create(kp, batch('true', { name: 'adopt-me', starts_at: '2h' }));
  const viaKey = await create(kp, batch('true', { name: 'adopt-me', starts_at: '2h' }), 'adopt');
  t.like(viaKey.body, { sessionId: plain.body.sessionId, created: false });
  t.is((await call(kp.client, 'DELETE', '/session/adopt-me')).status, 200);
  // The name is free again; the key still names the session it was answered with.
  const later = await create(kp, batch('true', { name: 'adopt-me', starts_at: '2h' }), 'adopt');
  t.like(later.body, { sessionId: plain.body.sessionId, created: false, status: 'CANCELLED' });
  t.is(await sessionCount(kp), 1);
});

test.serial('bai session create --idempotency-key twice gives one session', async (t) => {
  const args = ['session', 'create', '--type', 'batch', '-c', 'echo cli', '--enqueue-only', '--json'];
  const one = await bai(stack, [...args, '--idempotency-key', 'cli-key-1', 'python']);
  t.is(one.code, 0, one.stderr);
  const two = await bai(stack, [...args, '--idempotency-key', 'cli-key-1', 'python']);
  t.is(two.code, 0, two.stderr);
  const a = JSON.parse(one.stdout) as Created;
  const b = JSON.parse(two.stdout) as Created;
  t.true(a.created);
  t.false(b.created);
  t.is(b.sessionId, a.sessionId);
  const other = await bai(stack, [
    ...args.map((x) => (x === 'echo cli' ? 'echo other' : x)),
    '--idempotency-key',
    'cli-key-1',
    'python',
  ]);
  t.is(other.code, 1, 'another body under the key');
  t.regex(other.stderr, /idempotency-key-conflict/);
  await waitForStatus(stack.client, a.sessionId);

  // bai run again with its key: the first run's output and exit code, no second run.
  const run = ['run', '--idempotency-key', 'cli-run-1', '-c', 'print("ran"); raise SystemExit(5)', 'python'];
  const r1 = await bai(stack, run);
  t.is(r1.code, 5, r1.stderr);
  t.is(r1.stdout, 'ran\n');
  const r2 = await bai(stack, run);
  t.is(r2.code, 5, r2.stderr);
  t.is(r2.stdout, 'ran\n');
  const rows = await stack.database.db('idempotency_keys').where({ key: 'cli-run-1' });
  t.is(rows.length, 1);
  t.true(await starts.seen([rows[0].session_id]));
  t.is(starts.starts.get(rows[0].session_id), 1, 'its container started once');
});

/**
 * A proxy that loses the manager's answer to the first create it passes on (it reached the
 * manager, then the client is told 503), as a gateway that failed on the way back would.
 */
async function lossyProxy(target: URL): Promise<{ server: Server; url: string; creates: number[] }> {
  const creates: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const up = httpRequest(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          const body: Buffer[] = [];
          answer.on('data', (c: Buffer) => body.push(c));
          answer.on('end', () => {
            const isCreate = req.method === 'POST' && req.url === '/session';
            if (isCreate) creates.push(answer.statusCode ?? 0);
            if (isCreate && creates.length === 1) {
              res.writeHead(503, { 'Content-Type': 'application/problem+json', 'Retry-After': '0' });
              res.end(
                JSON.stringify({ type: 'https://api.backend.ai/probs/service-unavailable', title: 'lost' }),
              );
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      up.on('error', () => res.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, creates };
}

test.serial('the CLI repeats a keyed create whose answer was lost, and gets the one session', async (t) => {
  const args = ['session', 'create', '--type', 'batch', '-c', 'true', '--enqueue-only', '--json'];
  const proxy = await lossyProxy(new URL(stack.manager.url));
  try {
    const r = await bai(stack, [...args, '--idempotency-key', 'lost-answer', 'python'], {
      env: { BACKEND_ENDPOINT: proxy.url, BAI_RETRIES: '3' },
    });
    t.is(r.code, 0, r.stderr);
    t.regex(r.stderr, /Retrying POST \/session in [\d.]+ s \(HTTP 503 service-unavailable; 1 of 3\)/);
    t.deepEqual(proxy.creates, [201, 201], 'the manager created it, then answered the repeat');
    const answer = JSON.parse(r.stdout) as Created;
    t.false(answer.created, 'the repeat is answered with the session the lost answer named');
    const rows = await stack.database.db('idempotency_keys').where({ key: 'lost-answer' });
    t.is(rows.length, 1);
    t.is(rows[0].session_id, answer.sessionId);
  } finally {
    proxy.server.close();
  }
  // Without a key the create is not repeated: the lost answer is the CLI's error.
  const lost = await lossyProxy(new URL(stack.manager.url));
  try {
    const once = await bai(stack, [...args, 'python'], {
      env: { BACKEND_ENDPOINT: lost.url, BAI_RETRIES: '3' },
    });
    t.is(once.code, 1);
    t.notRegex(once.stderr, /Retrying/);
    t.deepEqual(lost.creates, [201]);
  } finally {
    lost.server.close();
  }
});
