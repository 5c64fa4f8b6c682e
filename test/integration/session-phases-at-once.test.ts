import test from 'ava';
import { phasesFixture, phaseSteps } from '../helpers/session-reports.js';
import { newSession, sameCallbacks } from '../helpers/session-rows.js';

/**
 * A progress report's phases in one statement (session-phases-at-once.ts) against the three
 * statements it replaces (movePhasesStepByStep), on a real PostgreSQL: the same rows, the
 * same events in the same order, the same callback deliveries (built from the locked row in
 * both, in one INSERT or in the statement).
 */
// applyPhases: the phases in one statement, as the store writes them; `three`: in the three statements.
const { fx, inTransaction: applyPhases, same } = phasesFixture(test);

for (const lagging of [false, true]) {
  test(`phases to RUNNING${lagging ? ', one sub behind' : ''}: one statement writes what the three wrote`, async (t) => {
    const a = await newSession(fx, `phases-cb-${lagging}`, ['SCHEDULED'], {
      callback_url: 'http://hook.invalid/x',
    });
    const b = await newSession(fx, `phases-one-${lagging}`, ['SCHEDULED']);
    const c = await newSession(fx, `phases-one-cb-${lagging}`, ['SCHEDULED'], {
      callback_url: 'http://hook.invalid/x',
    });
    if (lagging)
      for (const m of [a, b, c])
        await fx.database.db('kernels').where({ id: m.subs[1] }).update({ status: 'PENDING' });
    t.is(await applyPhases(a, phaseSteps(), true), Date.parse('2026-11-29T10:00:00.004Z'));
    t.is(await applyPhases(b, phaseSteps()), Date.parse('2026-11-29T10:00:00.004Z'));
    t.is(await applyPhases(c, phaseSteps()), Date.parse('2026-11-29T10:00:00.004Z'));
    t.deepEqual(await same(c), await same(a));
    await sameCallbacks(t, fx, c.id, a.id, ['enqueued', 'started']);
    const before = await same(a);
    const after = await same(b);
    t.deepEqual(after, before);
    t.is(after.session.status, 'RUNNING');
    t.deepEqual(after.containers, ['c-main', 'c-sub1', null]);
    t.true(after.events.some((e) => e.name === 'session_started'));
    t.true(after.events.some((e) => e.name === 'kernel_started' && e.kernel === 'sub2'));
    // A repeat moves nothing and writes no event.
    t.is(await applyPhases(b, phaseSteps()), null);
    t.deepEqual((await same(b)).events, after.events);
  });
}

test('phases in two reports (PREPARING, then the rest) write what one report of all of them writes', async (t) => {
  const a = await newSession(fx, 'phases-split', ['SCHEDULED']);
  const b = await newSession(fx, 'phases-whole', ['SCHEDULED']);
  await applyPhases(a, phaseSteps().slice(0, 2));
  await applyPhases(a, phaseSteps().slice(2));
  await applyPhases(b, phaseSteps());
  const [x, y] = [await same(a), await same(b)];
  t.deepEqual(
    x.events.map((e) => `${e.name}:${e.kernel ?? '-'}`),
    y.events.map((e) => `${e.name}:${e.kernel ?? '-'}`),
  );
  t.deepEqual(x.kernels, y.kernels);
});
