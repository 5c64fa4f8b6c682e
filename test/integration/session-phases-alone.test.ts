import test from 'ava';
import { chainFromAny, type PhaseStep } from '../../src/domain/phase-chain.js';
import type { SessionRow } from '../../src/persistence/rows.js';
import { movePhasesAlone, type PhasesGuard } from '../../src/persistence/session-phases-at-once.js';
import { containersOf, phasesFixture, phaseSteps } from '../helpers/session-reports.js';
import { newSession, sameCallbacks, whileSessionLocked, type Made } from '../helpers/session-rows.js';

/**
 * A progress report's phases as ONE statement on its own (session-phases-at-once.ts's
 * movePhasesAlone: no transaction, no lock read, its guard in the UPDATE, its events built in
 * SQL) against the three statements it was built from (movePhasesStepByStep) and the one
 * statement in the transaction, on a real PostgreSQL: the same rows, the same events in the
 * same order, the same callback deliveries (built in SQL here, in JS there); and when its
 * guard refuses, nothing written at all.
 */
// inTransaction: the transaction's path (one statement; `three`: the three statements).
const { fx, inTransaction, same } = phasesFixture(test);

async function guardOf(m: Made, extra: Partial<PhasesGuard> = {}): Promise<PhasesGuard> {
  const s = (await fx.database.db('sessions').where({ id: m.id }).first()) as SessionRow;
  return { agentId: 'agent-x', attempt: s.attempt, from: [], ...extra };
}

/** The statement on its own, as the handler runs it; undefined when chainFromAny declines. */
async function alone(m: Made, phases: PhaseStep[], extra: Partial<PhasesGuard> = {}) {
  const any = chainFromAny(phases);
  if (!any) return undefined;
  const guard = await guardOf(m, { from: any.from, ...extra });
  return fx.store.alone((db) => movePhasesAlone(db, m.id, any.chain, containersOf(m), guard));
}

for (const lagging of [false, true]) {
  test(`phases to RUNNING${lagging ? ', one sub behind' : ''}: on its own it writes what the transaction wrote`, async (t) => {
    const a = await newSession(fx, `alone-cb-${lagging}`, ['SCHEDULED'], {
      callback_url: 'http://hook.invalid/x',
    });
    const b = await newSession(fx, `alone-tx-${lagging}`, ['SCHEDULED']);
    const c = await newSession(fx, `alone-one-${lagging}`, ['SCHEDULED']);
    const d = await newSession(fx, `alone-one-cb-${lagging}`, ['SCHEDULED'], {
      callback_url: 'http://hook.invalid/x',
    });
    if (lagging)
      for (const m of [a, b, c, d])
        await fx.database.db('kernels').where({ id: m.subs[1] }).update({ status: 'PENDING' });
    t.is(await inTransaction(a, phaseSteps(), true), Date.parse('2026-11-29T10:00:00.004Z'));
    t.is(await inTransaction(b, phaseSteps()), Date.parse('2026-11-29T10:00:00.004Z'));
    const moved = await alone(c, phaseSteps());
    t.is(moved?.startedAt, Date.parse('2026-11-29T10:00:00.004Z'));
    t.is(moved?.scalingGroup, 'default');
    t.true(moved?.createdAt instanceof Date);
    const three = await same(a);
    t.deepEqual(await same(b), three);
    t.deepEqual(await same(c), three);
    t.true(three.events.some((e) => e.name === 'session_started'));
    t.like(await alone(d, phaseSteps()), { callbacksQueued: true });
    t.deepEqual(await same(d), three);
    await sameCallbacks(t, fx, d.id, a.id, ['enqueued', 'started']);
    t.like(moved, { callbacksQueued: false });
    // A repeat: its first phase is no longer ahead of the session, so the handler does not
    // take the statement; forced, its guard refuses and nothing is written.
    const before = await same(c);
    t.is(await alone(c, phaseSteps(), { from: ['SCHEDULED'] }), null);
    t.deepEqual(await same(c), before);
  });
}

test('phases in two reports (PREPARING, then the rest) on their own write what the transaction wrote', async (t) => {
  const a = await newSession(fx, 'alone-split-tx', ['SCHEDULED']);
  const b = await newSession(fx, 'alone-split-one', ['SCHEDULED']);
  await inTransaction(a, phaseSteps().slice(0, 2));
  await inTransaction(a, phaseSteps().slice(2));
  t.truthy(await alone(b, phaseSteps().slice(0, 2)));
  t.truthy(await alone(b, phaseSteps().slice(2)));
  t.deepEqual(await same(b), await same(a));
});

test('RUNNING alone, and a schedule session: on its own it writes what the transaction wrote', async (t) => {
  const extra = { schedule_name: 'nightly', scheduled_for: new Date('2026-11-29T09:00:00.123Z') };
  const a = await newSession(fx, 'alone-run-tx', ['SCHEDULED', 'PREPARING'], extra);
  const b = await newSession(fx, 'alone-run-one', ['SCHEDULED', 'PREPARING'], extra);
  const run = phaseSteps().slice(4);
  await inTransaction(a, run);
  t.truthy(await alone(b, run));
  const after = await same(b);
  t.deepEqual(after, await same(a));
  t.is(after.session.status, 'RUNNING');
  const { rows } = (await fx.database.db.raw(
    `SELECT data FROM session_events WHERE session_id = ? AND name = 'session_started'`,
    [b.id],
  )) as { rows: { data: Record<string, unknown> }[] };
  t.is(rows[0]!.data.scheduleName, 'nightly');
  t.is(rows[0]!.data.scheduledFor, '2026-11-29T09:00:00.123Z');
});

const refusals: { name: string; extra?: Partial<SessionRow>; guard?: Partial<PhasesGuard> }[] = [
  { name: 'another agent', guard: { agentId: 'agent-y' } },
  { name: 'an earlier attempt', guard: { attempt: -1 } },
];

for (const r of refusals) {
  test(`${r.name}: the guard refuses and nothing is written`, async (t) => {
    const m = await newSession(fx, `phases-refused-${r.name}`, ['SCHEDULED'], r.extra);
    const before = await same(m);
    t.is(await alone(m, phaseSteps(), r.guard), null);
    t.deepEqual(await same(m), before);
  });
}

test('a session cancelled meanwhile: the guard refuses and nothing is written', async (t) => {
  const m = await newSession(fx, 'phases-cancelled', ['SCHEDULED']);
  const guard = await guardOf(m, { from: chainFromAny(phaseSteps())!.from });
  await fx.database.db('sessions').where({ id: m.id }).update({ status: 'CANCELLED' });
  const before = await same(m);
  t.is(
    await fx.store.alone((db) => movePhasesAlone(db, m.id, chainFromAny(phaseSteps())!.chain, [], guard)),
    null,
  );
  t.deepEqual(await same(m), before);
});

test.serial(
  "kernels moved while the statement waits on the session's lock are read as they now stand",
  async (t) => {
    const a = await newSession(fx, 'phases-stale-tx', ['SCHEDULED']);
    const b = await newSession(fx, 'phases-stale-one', ['SCHEDULED']);
    const rest = phaseSteps().slice(2);
    // An earlier report (PREPARING, PULLING) lands first (a), or while the statement waits (b).
    await inTransaction(a, phaseSteps().slice(0, 2));
    await inTransaction(a, rest);
    const any = chainFromAny(rest)!;
    const guard = await guardOf(b, { from: any.from });
    const moved = await whileSessionLocked(
      fx,
      b.id,
      'UPDATE sessions SET status = $1',
      () => fx.store.alone((db) => movePhasesAlone(db, b.id, any.chain, containersOf(b), guard)),
      (trx, s) => fx.store.movePhasesIn(trx, s, phaseSteps().slice(0, 2), containersOf(b)),
    );
    t.truthy(moved);
    const after = await same(b);
    t.deepEqual(after, await same(a));
    t.deepEqual(
      after.kernels.map((k) => k.status),
      ['RUNNING', 'RUNNING', 'RUNNING'],
    );
  },
);

test('a session with a callback_url, phases in two reports on their own: a delivery only for RUNNING, as the three statements wrote', async (t) => {
  const hook = { callback_url: 'http://hook.invalid/x' };
  const a = await newSession(fx, 'alone-split-cb-three', ['SCHEDULED'], hook);
  const b = await newSession(fx, 'alone-split-cb-one', ['SCHEDULED'], hook);
  await inTransaction(a, phaseSteps().slice(0, 2), true);
  await inTransaction(a, phaseSteps().slice(2), true);
  t.like(await alone(b, phaseSteps().slice(0, 2)), { callbacksQueued: false });
  t.like(await alone(b, phaseSteps().slice(2)), { callbacksQueued: true });
  t.deepEqual(await same(b), await same(a));
  await sameCallbacks(t, fx, b.id, a.id, ['enqueued', 'started']);
});
