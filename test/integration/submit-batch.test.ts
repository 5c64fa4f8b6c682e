import test from 'ava';
import type { Knex } from 'knex';
import { call, makeKeypair, openSse, slugOf, type Answer, type TestKeypair } from '../helpers/api.js';
import { eventually } from '../helpers/eventually.js';
import { batch, startTestStack, type TestStack } from '../helpers/stack.js';

// Group commit of POST /session (issue 18, src/api/submit-batcher.ts), on a real manager and
// PostgreSQL. To make a group deterministic whatever the machine's speed, a test holds a SHARE
// lock on session_events: the first create's commit waits on it, the next creates queue behind
// that commit (the manager says how many wait), and releasing the lock lets them go as a group.

type Created = { sessionId: string; sessionName: string; status: string; created: boolean };

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ agents: 1 });
});
test.after.always(async () => {
  await stack?.close();
});

const later = (extra: Record<string, unknown> = {}) => batch('true', { starts_at: '2h', ...extra });

function create(kp: TestKeypair, body: unknown): Promise<Answer<Created>> {
  return call<Created>(kp.client, 'POST', '/session', body);
}

/** Holds inserts into session_events until the returned function is called. */
async function holdInserts(): Promise<() => Promise<void>> {
  const trx: Knex.Transaction = await stack.database.db.transaction();
  await trx.raw('LOCK TABLE session_events IN SHARE MODE');
  return async () => {
    await trx.commit();
  };
}

/**
 * Sends a first create that blocks on the lock, then `burst()`, and waits until `queued` creates
 * of the burst wait behind it; then releases the lock. Returns the blocker's and the burst's answers
 * and how many groups the burst took.
 */
async function groupedBurst<T>(
  kp: TestKeypair,
  queued: number,
  burst: () => Promise<T>,
  whileHeld: () => Promise<void> = async () => {},
): Promise<{ blocker: Answer<Created>; out: T; groups: number }> {
  const release = await holdInserts();
  let out: Promise<T>;
  let blocker: Promise<Answer<Created>>;
  let groupsBefore: number;
  try {
    const before = stack.manager.submits.stats().groups;
    blocker = create(kp, later());
    await eventually(() => stack.manager.submits.stats().groups === before + 1, {
      message: 'the first create in a group of its own, waiting on the lock',
    });
    groupsBefore = stack.manager.submits.stats().groups;
    out = burst();
    await eventually(() => stack.manager.submits.stats().waiting === queued, {
      message: () => `${queued} creates queued (now ${stack.manager.submits.stats().waiting})`,
    });
    await whileHeld();
  } finally {
    await release();
  }
  const answers = await out;
  return {
    blocker: await blocker,
    out: answers,
    groups: stack.manager.submits.stats().groups - groupsBefore,
  };
}

async function enqueuedEvents(ids: string[]): Promise<Map<string, number>> {
  const rows = (await stack.database
    .db('session_events')
    .whereIn('session_id', ids)
    .where({ name: 'session_enqueued' })
    .select('session_id')) as { session_id: string }[];
  const n = new Map<string, number>();
  for (const r of rows) n.set(r.session_id, (n.get(r.session_id) ?? 0) + 1);
  return n;
}

test.serial(
  '50 concurrent creates: one group, each its own 201 and session, rows and events committed',
  async (t) => {
    const kp = await makeKeypair(stack);
    const sse = await openSse(kp.client, { sessionName: '*' });
    t.is(sse.status, 200);
    try {
      const { blocker, out, groups } = await groupedBurst(kp, 50, () =>
        Promise.all(Array.from({ length: 50 }, (_, i) => create(kp, later({ tag: `n${i}` })))),
      );
      t.is(blocker.status, 201);
      t.deepEqual(
        out.map((a) => a.status),
        Array(50).fill(201),
        JSON.stringify(out.find((a) => a.status !== 201)?.body),
      );
      t.is(groups, 1, 'the 50 went in one group');
      const ids = out.map((a) => a.body.sessionId);
      t.is(new Set(ids).size, 50, 'each answer names its own session');
      t.true(out.every((a) => a.body.created && a.body.status === 'PENDING'));
      const rows = (await stack.database.db('sessions').whereIn('id', ids).select('id', 'tag', 'status')) as {
        id: string;
        tag: string;
        status: string;
      }[];
      t.is(rows.length, 50);
      // Each answer names the session of its own request (its tag), not another member's.
      const tagOf = new Map(rows.map((r) => [r.id, r.tag]));
      out.forEach((a, i) => t.is(tagOf.get(a.body.sessionId), `n${i}`));
      const kernels = await stack.database
        .db('kernels')
        .whereIn('session_id', ids)
        .count<{ n: string }[]>({ n: '*' });
      t.is(Number(kernels[0]!.n), 50, 'one kernel each');
      const events = await enqueuedEvents(ids);
      t.true(
        ids.every((id) => events.get(id) === 1),
        'one session_enqueued event each',
      );
      // The event hub delivers each one to SSE listeners.
      for (const id of ids)
        await sse.until((f) => f.event === 'session_enqueued' && f.data.sessionId === id, 60_000);
    } finally {
      sse.close();
    }
  },
);

test.serial(
  'a group with a name conflict: each loser gets its true answer (400, or the session with reuseIfExists), the others 201; an invalid request its 4xx at once',
  async (t) => {
    const kp = await makeKeypair(stack);
    let invalid: Answer<Created> | null = null;
    const { out, groups } = await groupedBurst(
      kp,
      14,
      () =>
        Promise.all([
          ...Array.from({ length: 10 }, (_, i) => create(kp, later({ tag: `ok${i}` }))),
          create(kp, later({ name: 'dup-name', tag: 'dup-a', reuseIfExists: false })),
          create(kp, later({ name: 'dup-name', tag: 'dup-b', reuseIfExists: false })),
          // Backend.AI's default (reuseIfExists true): the loser is answered the winner's session.
          create(kp, later({ name: 'dup-reuse' })),
          create(kp, later({ name: 'dup-reuse' })),
        ]),
      async () => {
        // Validated on its own: answered while the group still waits for the lock.
        invalid = await create(kp, later({ image: 'no-such-image:1' }));
      },
    );
    t.truthy(invalid);
    t.true(invalid!.status >= 400 && invalid!.status < 500, JSON.stringify(invalid!.body));
    t.is(groups, 1, 'the fourteen went in one group (which failed, then went one by one)');
    const ok = out.slice(0, 10);
    t.deepEqual(
      ok.map((a) => a.status),
      Array(10).fill(201),
      JSON.stringify(ok.find((a) => a.status !== 201)?.body),
    );
    const dups = out.slice(10, 12);
    const reused = out.slice(12);
    t.deepEqual(
      reused.map((a) => a.status),
      [201, 201],
      JSON.stringify(reused.map((a) => a.body)),
    );
    t.is(reused[0]!.body.sessionId, reused[1]!.body.sessionId, 'one dup-reuse session');
    t.deepEqual(reused.map((a) => a.body.created).sort(), [false, true]);
    t.deepEqual(dups.map((a) => a.status).sort(), [201, 400], JSON.stringify(dups.map((a) => a.body)));
    const loser = dups.find((a) => a.status === 400)!;
    t.is(slugOf(loser as Answer), 'session-already-exists');
    const winner = dups.find((a) => a.status === 201)!;
    const live = (await stack.database
      .db('sessions')
      .where({ access_key: kp.accessKey })
      .select('id', 'name', 'tag')) as { id: string; name: string; tag: string }[];
    t.is(live.length, 1 + 10 + 2, 'the blocker, ten, and one session of each name');
    t.is(live.filter((s) => s.name === 'dup-reuse').length, 1);
    t.is(live.filter((s) => s.name === 'dup-name').length, 1);
    t.is(live.find((s) => s.name === 'dup-name')!.id, winner.body.sessionId);
    const ids = [...ok.map((a) => a.body.sessionId), winner.body.sessionId, reused[0]!.body.sessionId];
    const events = await enqueuedEvents(ids);
    t.true(
      ids.every((id) => events.get(id) === 1),
      'one session_enqueued event each',
    );
  },
);

test.serial(
  'concurrent creates with one idempotency key among others: one session for the key',
  async (t) => {
    const kp = await makeKeypair(stack);
    const keyed = (i: number) =>
      call<Created>(kp.client, 'POST', '/session', later({ tag: 'keyed' }), undefined, {
        'Idempotency-Key': 'one-key',
      }).then((a) => ({ ...a, i }));
    const { out } = await groupedBurst(kp, 20, () =>
      Promise.all([
        ...Array.from({ length: 10 }, (_, i) => keyed(i)),
        ...Array.from({ length: 10 }, (_, i) =>
          create(kp, later({ tag: `plain${i}` })).then((a) => ({ ...a, i })),
        ),
      ]),
    );
    t.deepEqual(
      out.map((a) => a.status),
      Array(20).fill(201),
      JSON.stringify(out.find((a) => a.status !== 201)?.body),
    );
    const keyedAnswers = out.slice(0, 10);
    t.is(new Set(keyedAnswers.map((a) => a.body.sessionId)).size, 1, 'every keyed answer names one session');
    t.is(keyedAnswers.filter((a) => a.body.created).length, 1, 'one of them created it');
    t.is(new Set(out.slice(10).map((a) => a.body.sessionId)).size, 10);
    const rows = await stack.database
      .db('sessions')
      .where({ access_key: kp.accessKey, tag: 'keyed' })
      .count<{ n: string }[]>({ n: '*' });
    t.is(Number(rows[0]!.n), 1);
    const keys = await stack.database.db('idempotency_keys').where({ access_key: kp.accessKey });
    t.is(keys.length, 1);
    t.is(keys[0].session_id, keyedAnswers[0]!.body.sessionId);
  },
);

test.serial('a lone create is answered after its commit, in a group of its own', async (t) => {
  const kp = await makeKeypair(stack);
  const before = stack.manager.submits.stats();
  const a = await create(kp, later());
  t.is(a.status, 201);
  const after = stack.manager.submits.stats();
  t.is(after.groups, before.groups + 1);
  t.is(after.items, before.items + 1);
  t.truthy(
    await stack.database.db('sessions').where({ id: a.body.sessionId }).first(),
    'committed before the 201',
  );
});
