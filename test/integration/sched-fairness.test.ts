import test from 'ava';
import { holdsWithin } from '../helpers/eventually.js';
import { call, makeKeypair, slugOf, type TestKeypair } from '../helpers/api.js';
import { insertCopies } from '../../src/persistence/session-copies.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack();
});
test.after.always(async () => {
  await stack?.close();
});

test.serial(
  "2,000 blocked sessions of one keypair do not delay another keypair's session past one pass",
  async (t) => {
    t.timeout(240_000);
    const policy = await call(stack.client, 'POST', '/resource-policies', {
      name: 'bulk',
      max_pending_session_count: 5000,
    });
    t.is(policy.status, 201);
    const heavy: TestKeypair = await makeKeypair(stack, { resource_policy: 'bulk' });
    const other: TestKeypair = await makeKeypair(stack);
    const post = (kp: TestKeypair, body: Record<string, unknown>) =>
      kp.client.request<{ sessionId: string }>('POST', '/session', body).then((r) => r.sessionId);

    // A parent that will not end soon, and 2,000 sessions that depend on it (all older than
    // the other keypair's session, so a scan by priority and age reads them first).
    const parent = await post(
      heavy,
      batch('true', { name: 'parent', starts_at: new Date(Date.now() + 86_400_000).toISOString() }),
    );
    const first = await post(heavy, batch('true', { name: 'blocked', dependencies: [parent] }));
    const blocked = [
      first,
      ...(await insertCopies(stack.database.db, first, 1999, (row, i) => ({ name: `${row.name}-${i}` }), [
        parent,
      ])),
    ];
    t.is(blocked.length, 2000);

    const statusAtEnd = new Map<number, string>();
    let watched: string | null = null;
    const unsubscribe = stack.manager.dispatcher.onPass(async (n) => {
      if (!watched) return;
      const r = (await stack.database.db('sessions').where({ id: watched }).first('status')) as {
        status: string;
      };
      statusAtEnd.set(n, r.status);
    });
    try {
      watched = await post(other, batch('echo hello', { name: 'not-starved' }));
      // Every pass that begins from here on reads the session: the first of them must place it.
      const c = stack.manager.dispatcher.passesStarted;
      await holdsWithin(() => statusAtEnd.has(c + 1), { timeoutMs: 120_000, intervalMs: 50 });
      t.true(statusAtEnd.has(c + 1), `pass ${c + 1} ended`);
      t.not(
        statusAtEnd.get(c + 1),
        'PENDING',
        `placed by pass ${c + 1}, the first to begin after its creation`,
      );
      const done = await waitForStatus(other.client, watched, ['TERMINATED', 'CANCELLED'], 90_000);
      t.is(done.result, 'SUCCESS');
    } finally {
      unsubscribe();
    }

    // The blocked ones say why, all of them, and still wait.
    const explained = (await stack.database
      .db('sessions')
      .whereIn('id', blocked)
      .where('status', 'PENDING')
      .whereRaw(`status_data -> 'predicates' -> 0 ->> 'name' = 'dependencies'`)
      .count('* as n')
      .first()) as { n: string };
    t.is(Number(explained.n), 2000);

    // The parent cancelled: every dependent ends dependency-failed, past one pass's batch.
    t.true((await call(heavy.client, 'DELETE', `/session/${parent}`)).status < 300);
    let left = Infinity;
    await holdsWithin(
      async () => {
        const r = (await stack.database
          .db('sessions')
          .whereIn('id', blocked)
          .whereNot('status_info', 'dependency-failed')
          .count('* as n')
          .first()) as { n: string };
        left = Number(r.n);
        return left === 0;
      },
      { timeoutMs: 150_000, intervalMs: 200 },
    );
    t.is(left, 0, 'every dependent cancelled');
  },
);

test.serial(
  'the default policy limits pending sessions per keypair: past 1,000, create answers 400',
  async (t) => {
    const policies = await call<{ items: { name: string; max_pending_session_count: number | null }[] }>(
      stack.client,
      'GET',
      '/resource-policies',
    );
    t.is(policies.body.items.find((p) => p.name === 'default')?.max_pending_session_count, 1000);
    const kp = await makeKeypair(stack);
    const later = { starts_at: new Date(Date.now() + 86_400_000).toISOString() };
    const first = await kp.client.request<{ sessionId: string }>(
      'POST',
      '/session',
      batch('true', { name: 'later', ...later }),
    );
    await insertCopies(stack.database.db, first.sessionId, 999, (row, i) => ({ name: `${row.name}-${i}` }));
    const over = await call(kp.client, 'POST', '/session', batch('true', { name: 'one-too-many', ...later }));
    t.is(over.status, 400);
    t.is(slugOf(over), 'quota-exceeded');
    t.regex(String((over.body as { msg?: string }).msg), /1000 pending sessions/);
    t.regex(over.headers.get('content-type') ?? '', /^application\/problem\+json/);
  },
);
