import test from 'ava';
import type { KernelRow } from '../../src/persistence/rows.js';
import type { PhaseStep } from '../../src/domain/phase-chain.js';
import { movePhasesIn, movePhasesStepByStep } from '../../src/persistence/session-phases.js';
import { SessionStore } from '../../src/persistence/session-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { newSession, sameCallbacks, written, type Made } from '../helpers/session-rows.js';

/**
 * A progress report's phases in one statement (session-phases-at-once.ts) against the three
 * statements it replaces (movePhasesStepByStep), on a real PostgreSQL: the same rows, the
 * same events in the same order, the same callback deliveries (built from the locked row in
 * both, in one INSERT or in the statement).
 */
let database: TestDatabase;
let store: SessionStore;
test.before(async () => {
  database = await createTestDatabase();
  store = new SessionStore(database.db);
});
test.after.always(async () => {
  await database?.drop();
});

function steps(): PhaseStep[] {
  const t = Date.parse('2026-11-29T10:00:00.000Z');
  return [
    { status: 'PREPARING', at: t, data: {} },
    { status: 'PULLING', at: t + 1, data: { pulled: 1 } },
    { status: 'PREPARED', at: t + 2, data: {} },
    { status: 'CREATING', at: t + 3, data: {} },
    { status: 'RUNNING', at: t + 4, data: { note: 'x' } },
  ];
}

/** The phases in one statement, as the store writes them; `three`: in the three statements. */
async function applyPhases(m: Made, phases: PhaseStep[], three = false): Promise<number | null> {
  return store.inTransaction(async (trx) => {
    const s = (await store.lockIn(trx, m.id))!;
    const containers = [
      { kernelId: m.main, containerId: 'c-main' },
      { kernelId: m.subs[0]!, containerId: 'c-sub1' },
    ];
    const moved = three
      ? await movePhasesIn(trx, s, phases, containers, movePhasesStepByStep)
      : await store.movePhasesIn(trx, s, phases, containers);
    return moved?.startedAt ?? null;
  });
}

/** written(database, ) with what differs between the two on purpose left out (the callback_url). */
async function same(m: Made) {
  const w = await written(database, m);
  const s = (await database
    .db('kernels')
    .where({ session_id: m.id })
    .orderBy([{ column: 'cluster_role' }, 'cluster_idx'])) as KernelRow[];
  return { ...w, containers: s.map((k) => k.container_id) };
}

for (const lagging of [false, true]) {
  test(`phases to RUNNING${lagging ? ', one sub behind' : ''}: one statement writes what the three wrote`, async (t) => {
    const a = await newSession(store, database, `phases-cb-${lagging}`, ['SCHEDULED'], {
      callback_url: 'http://hook.invalid/x',
    });
    const b = await newSession(store, database, `phases-one-${lagging}`, ['SCHEDULED']);
    const c = await newSession(store, database, `phases-one-cb-${lagging}`, ['SCHEDULED'], {
      callback_url: 'http://hook.invalid/x',
    });
    if (lagging)
      for (const m of [a, b, c])
        await database.db('kernels').where({ id: m.subs[1] }).update({ status: 'PENDING' });
    t.is(await applyPhases(a, steps(), true), Date.parse('2026-11-29T10:00:00.004Z'));
    t.is(await applyPhases(b, steps()), Date.parse('2026-11-29T10:00:00.004Z'));
    t.is(await applyPhases(c, steps()), Date.parse('2026-11-29T10:00:00.004Z'));
    t.deepEqual(await same(c), await same(a));
    await sameCallbacks(t, database, c.id, a.id, ['enqueued', 'started']);
    const before = await same(a);
    const after = await same(b);
    t.deepEqual(after, before);
    t.is(after.session.status, 'RUNNING');
    t.deepEqual(after.containers, ['c-main', 'c-sub1', null]);
    t.true(after.events.some((e) => e.name === 'session_started'));
    t.true(after.events.some((e) => e.name === 'kernel_started' && e.kernel === 'sub2'));
    // A repeat moves nothing and writes no event.
    t.is(await applyPhases(b, steps()), null);
    t.deepEqual((await same(b)).events, after.events);
  });
}

test('phases in two reports (PREPARING, then the rest) write what one report of all of them writes', async (t) => {
  const a = await newSession(store, database, 'phases-split', ['SCHEDULED']);
  const b = await newSession(store, database, 'phases-whole', ['SCHEDULED']);
  await applyPhases(a, steps().slice(0, 2));
  await applyPhases(a, steps().slice(2));
  await applyPhases(b, steps());
  const [x, y] = [await same(a), await same(b)];
  t.deepEqual(
    x.events.map((e) => `${e.name}:${e.kernel ?? '-'}`),
    y.events.map((e) => `${e.name}:${e.kernel ?? '-'}`),
  );
  t.deepEqual(x.kernels, y.kernels);
});
