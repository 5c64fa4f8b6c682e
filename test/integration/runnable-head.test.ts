import test, { type ExecutionContext } from 'ava';
import { analyze, functionBody, planScans, type RanQuery } from '../../src/persistence/plan-check.js';
import { scanRunnable } from '../../src/persistence/runnable-scan.js';
import { SchedulerStore } from '../../src/persistence/scheduler-store.js';
import { SessionStore } from '../../src/persistence/session-store.js';
import { capacityPredicate } from '../../src/domain/predicates.js';
import { call, makeKeypair } from '../helpers/api.js';
import { insertCopies } from '../../src/persistence/session-copies.js';
import { batch, startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * A page read from the head of the queue (runnable-scan.ts) is the page a read of the whole
 * queue gives, on a real PostgreSQL, for a queue that has what makes a head come up short: two
 * priorities, sessions of one group commit (the same created_at), a keypair at its concurrency
 * limit, an array at its parallelism, a session due later and one behind a dependency. No agent
 * runs anything, so the queue stays as built while the scans read it.
 */
let stack: TestStack;
const group = 'default';
test.before(async () => {
  stack = await startTestStack({ agents: 0 });
});
test.after.always(async () => {
  await stack?.close();
});

/** A seeded generator, so a failure is the same queue when run again. */
function seeded(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

async function buildQueue(t: ExecutionContext): Promise<void> {
  const { db } = stack.database;
  const policy = await call(stack.client, 'POST', '/resource-policies', {
    name: 'head-limited',
    max_concurrent_sessions: 5,
    max_pending_session_count: 1000,
  });
  t.is(policy.status, 201);
  const limited = await makeKeypair(stack, { resource_policy: 'head-limited' });
  // A keypair at its limit (a policy that allows none), whose sessions lead the queue.
  await db('keypair_resource_policies').insert({ name: 'head-full', max_concurrent_sessions: 0 });
  const full = await makeKeypair(stack, { resource_policy: 'head-full' });
  const { sessionId } = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('true', { name: 'head-template' }),
  );
  const rnd = seeded(7);
  const base = Date.now() - 3_600_000;
  // An array parent (never placed) whose children may run two at a time, and one without a
  // parallelism, whose children come more than a small head holds.
  const [parent] = await insertCopies(db, sessionId, 1, () => ({
    name: 'head-array',
    array_size: 12,
    array_parallelism: 2,
  }));
  const [unlimited] = await insertCopies(db, sessionId, 1, () => ({
    name: 'head-array-all',
    array_size: 20,
    array_parallelism: null,
  }));
  const later = new Date(Date.now() + 3_600_000);
  const ids = await insertCopies(db, sessionId, 150, (row, i) => {
    const r = rnd();
    return {
      name: `head-${i}`,
      priority: rnd() < 0.3 ? 10 : 0,
      // Few distinct instants: many sessions share one, as a group commit's do.
      created_at: new Date(base + Math.floor(rnd() * 6) * 1000),
      access_key: r < 0.6 ? limited.accessKey : row.access_key,
      // Due later: one session, and a child of each array; in a retry's backoff: one child.
      starts_at: i === 3 || i === 104 || i === 125 ? later : null,
      retry_after: i === 101 ? later : null,
      ...(i >= 100 && i < 112 ? { array_parent_id: parent!, array_index: i - 100 } : {}),
      ...(i >= 120 && i < 140 ? { array_parent_id: unlimited!, array_index: i - 120 } : {}),
    };
  });
  // One waits for a session that has not ended (the template, which nothing runs).
  await db('session_dependencies').insert({ session_id: ids[4], depends_on: sessionId });
  await insertCopies(db, sessionId, FULL_AHEAD, (_, i) => ({
    name: `head-full-${i}`,
    priority: 20,
    created_at: new Date(base),
    access_key: full.accessKey,
  }));
  // Retries in their backoff, ahead of all but the keypair at its limit: they fill the heads of
  // a few (the arrays' children are not in the queue, migration 20261203080000).
  await insertCopies(db, sessionId, 6, (_, i) => ({
    name: `head-backoff-${i}`,
    priority: 15,
    created_at: new Date(base),
    retry_after: later,
  }));
}

/** The sessions of the keypair at its limit, ahead of all others in the queue. */
const FULL_AHEAD = 8;

test.serial('a page from the head of the queue is the page of the whole queue', async (t) => {
  await buildQueue(t);
  const { db } = stack.database;
  const at = { group, horizon: new Date(), now: new Date() };
  const waiting = [capacityPredicate(0)];
  const whole = await scanRunnable(db, null, at, 1000, waiting);
  t.true(whole.total > 40, `enough can run (${whole.total})`);
  t.true(
    whole.read > whole.total + 40,
    'the keypair, the array, the later start and the dependency hold some back',
  );
  const seen = { queue: { exact: 0, short: 0 }, open: { exact: 0, short: 0 } };
  for (const limit of [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]) {
    const page = whole.rows.slice(0, limit).map((r) => r.id);
    // The store reads the queue's head, then the open keypairs' head, then the whole queue.
    let expectedMore: boolean | null = null;
    for (const from of ['queue', 'open'] as const) {
      const head = await scanRunnable(db, 2 * limit, at, limit, waiting, from);
      const cut = head.read >= 2 * limit;
      if (!cut || head.rows.length >= limit) {
        seen[from].exact++;
        t.deepEqual(
          head.rows.map((r) => r.id),
          page,
          `a page of ${limit} from a ${from} head of ${2 * limit}`,
        );
        if (!cut) t.is(head.total, whole.total, 'a head that holds the whole queue counts all');
        expectedMore ??= cut || whole.total > limit;
      } else seen[from].short++;
    }
    // What the dispatcher gets: the same page, whether from a head or (short) the whole queue.
    const store = new SchedulerStore(db, new SessionStore(db));
    await store.runnable(group, at.horizon, at.now, limit, waiting); // its first read is whole
    const got = await store.runnable(group, at.horizon, at.now, limit, waiting);
    t.deepEqual(
      got.rows.map((r) => r.id),
      page,
      `the store's page of ${limit}`,
    );
    t.is(got.more, expectedMore ?? whole.total > limit, `more after ${limit}`);
  }
  // The keypair at its limit fills the queue's heads of up to FULL_AHEAD: only the open head
  // gives their pages; the head without it can still come up short (the other gates).
  t.log(JSON.stringify(seen));
  for (const from of ['queue', 'open'] as const)
    t.true(seen[from].exact > 0 && seen[from].short > 0, `both kinds of ${from} head were seen`);
  t.true(seen.open.exact > seen.queue.exact, 'the open head gives pages the queue head does not');
  // The keypair at its limit: those past its room say so, in the head's read as in the whole's.
  const said = (await db('sessions')
    .where({ status: 'PENDING', scaling_group: group })
    .whereNull('array_size')
    .select(db.raw(`status_data -> 'predicates' -> 0 ->> 'name' AS name`))) as { name: string | null }[];
  t.true(said.some((r) => r.name === 'keypair_concurrency'));
  t.true(said.some((r) => r.name === 'array_parallelism'));
});

test.serial('a head is read from the queue index and stops there, generic plan or not', async (t) => {
  const { db } = stack.database;
  await analyze(db);
  const ran: RanQuery[] = [];
  const capture = (q: { sql?: string; bindings?: unknown[]; options?: { name?: string } }) => {
    if (q.sql && q.options?.name === 'bai_runnable_32') ran.push({ sql: q.sql, bindings: q.bindings ?? [] });
  };
  db.on('query', capture);
  try {
    await scanRunnable(db, 32, { group, horizon: new Date(), now: new Date() }, 16, [capacityPredicate(0)]);
  } finally {
    db.removeListener('query', capture);
  }
  t.is(ran.length, 1);
  // The scan reads its head through pending_queue_head, whose own statement reads the index.
  const head = await functionBody(db, 'pending_queue_head');
  for (const generic of [false, true]) {
    const label = generic ? 'generic' : 'custom';
    const scans = await planScans(db, ran[0]!, { generic });
    t.true(
      scans.some((s) => s.node === 'Function Scan'),
      `${label} plan: ${JSON.stringify(scans)}`,
    );
    const inHead = await planScans(
      db,
      { sql: head.sql, bindings: [group, 32] },
      { generic, settings: head.settings },
    );
    t.true(
      inHead.some((s) => s.index === 'sessions_pending_queue_idx'),
      `${label} plan of the head: ${JSON.stringify(inHead)}`,
    );
  }
});
