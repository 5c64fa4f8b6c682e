import test from 'ava';
import type { SessionStatus } from '../../src/domain/status.js';
import type { KernelRow, SessionRow } from '../../src/persistence/rows.js';
import type { ExitMove, KernelExit } from '../../src/persistence/session-exit.js';
import { SessionStore } from '../../src/persistence/session-store.js';
import { exitMoveOf, exitOf, STARTED } from '../helpers/session-reports.js';
import { newSession, sameCallbacks, storeFixture, written, type Made } from '../helpers/session-rows.js';

/**
 * The exit report's one statement (session-exit.ts) against the statements one by one it
 * replaces (the kernel's exit, the subs' output, the guarded move of the session and its
 * kernels with their events, the attempt), on a real PostgreSQL: the same rows, the same
 * events in the same order, the same callback deliveries, the same guards.
 */
const fx = storeFixture(test);

/** The session's move, with the started_at the handler read. */
function moveOf(exitCode: number): ExitMove {
  return { ...exitMoveOf(exitCode), startedAt: STARTED };
}

/** The statements one by one, as the report handler ran them before. */
async function stepByStep(m: Made, exit: KernelExit, move: ExitMove): Promise<boolean> {
  return fx.store.inTransaction(async (trx) => {
    await fx.store.lockIn(trx, m.id);
    await fx.store.recordKernelExitIn(trx, exit.kernelId, exit);
    for (const sub of exit.subLogs) await fx.store.recordKernelLogsIn(trx, m.id, sub.kernelId, sub);
    const row = await fx.store.transitionIn(trx, m.id, 'TERMINATED', {
      info: move.info,
      data: move.data,
      result: move.result,
      exitCode: move.exitCode,
      set: { started_at: move.startedAt },
      kernels: true,
    });
    return row !== null;
  });
}

async function inOne(m: Made, exit: KernelExit, move: ExitMove): Promise<boolean> {
  return fx.store.inTransaction(async (trx) => {
    const s = (await fx.store.lockIn(trx, m.id))!;
    return fx.store.exitAndTerminateIn(trx, s, exit, move);
  });
}

for (const exitCode of [0, 3]) {
  test(`exit ${exitCode} of a RUNNING session: the one statement writes what the statements one by one wrote`, async (t) => {
    const a = await newSession(fx, `one-by-one-${exitCode}`, ['SCHEDULED', 'PREPARING', 'RUNNING']);
    const b = await newSession(fx, `in-one-${exitCode}`, ['SCHEDULED', 'PREPARING', 'RUNNING']);
    t.true(await stepByStep(a, exitOf(a, exitCode), moveOf(exitCode)));
    t.true(await inOne(b, exitOf(b, exitCode), moveOf(exitCode)));
    const before = await written(fx, a);
    const after = await written(fx, b);
    t.deepEqual(after, before);
    // The order the stream promises: kernels (main, then subs by index), then the result, then the end.
    t.deepEqual(
      after.events.slice(-5).map((e) => `${e.name}:${e.kernel ?? '-'}`),
      [
        'kernel_terminated:main1',
        'kernel_terminated:sub1',
        'kernel_terminated:sub2',
        exitCode === 0 ? 'session_success:-' : 'session_failure:-',
        'session_terminated:-',
      ],
    );
    t.is(after.attempts.length, 1);
  });
}

for (const exitCode of [0, 3]) {
  test(`exit ${exitCode} of a session with a callback_url: the one statement writes the deliveries the statements one by one wrote`, async (t) => {
    const to: SessionStatus[] = ['SCHEDULED', 'PREPARING', 'RUNNING'];
    const hook = { callback_url: 'http://hook.invalid/x' };
    const a = await newSession(fx, `hook-one-by-one-${exitCode}`, to, hook);
    const b = await newSession(fx, `hook-in-one-${exitCode}`, to, hook);
    t.true(await stepByStep(a, exitOf(a, exitCode), moveOf(exitCode)));
    let queued = 0;
    const told = new SessionStore(fx.database.db, {
      eventsCommitted() {},
      callbacksQueued: () => (queued += 1),
    });
    t.true(
      await told.inTransaction(async (trx) =>
        told.exitAndTerminateIn(trx, (await told.lockIn(trx, b.id))!, exitOf(b, exitCode), moveOf(exitCode)),
      ),
    );
    t.is(queued, 1);
    t.deepEqual(await written(fx, b), await written(fx, a));
    const result = exitCode === 0 ? 'success' : 'failure';
    await sameCallbacks(t, fx, b.id, a.id, ['enqueued', 'started', result, 'terminated']);
  });
}

test('a repeated exit changes nothing: no second event, no second attempt', async (t) => {
  const m = await newSession(fx, 'repeat', ['SCHEDULED', 'PREPARING', 'RUNNING']);
  t.true(await inOne(m, exitOf(m, 0), moveOf(0)));
  const first = await written(fx, m);
  // The handler stops at a terminal status before this; the statement's own guard holds too.
  t.false(await inOne(m, { ...exitOf(m, 0), logs: 'again\n' }, moveOf(0)));
  const second = await written(fx, m);
  t.deepEqual(second.events, first.events);
  t.deepEqual(second.attempts, first.attempts);
  t.is(second.session.status, 'TERMINATED');
});

test('a session that may not move to TERMINATED (cancelled meanwhile) keeps its status; the exit and output are still written', async (t) => {
  for (const [name, run] of [
    ['guard-one-by-one', stepByStep],
    ['guard-in-one', inOne],
  ] as const) {
    const m = await newSession(fx, name, ['SCHEDULED']);
    await fx.database.db('sessions').where({ id: m.id }).update({ status: 'CANCELLED' });
    t.false(await run(m, exitOf(m, 0), moveOf(0)));
  }
  const [a, b] = await Promise.all(
    ['guard-one-by-one', 'guard-in-one'].map(async (name) => {
      const s = (await fx.database.db('sessions').where({ name }).first()) as SessionRow;
      const ks = (await fx.database.db('kernels').where({ session_id: s.id }).orderBy('id')) as KernelRow[];
      return written(fx, { id: s.id, main: '', subs: ks.map((k) => k.id) });
    }),
  );
  t.deepEqual(b, a);
  t.is(b!.session.status, 'CANCELLED');
  t.deepEqual(
    b!.kernels.map((k) => k.logs),
    ['out\n', 'sub1\n', 'sub2\n'],
  );
  t.false(b!.events.some((e) => e.name === 'session_terminated'));
});

test("another session's kernel named as a sub is left alone", async (t) => {
  const m = await newSession(fx, 'subs-own', ['SCHEDULED', 'PREPARING', 'RUNNING']);
  const other = await newSession(fx, 'subs-other', ['SCHEDULED', 'PREPARING', 'RUNNING']);
  const exit = exitOf(m, 0);
  t.true(
    await inOne(
      m,
      { ...exit, subLogs: [...exit.subLogs, { ...exit.subLogs[0]!, kernelId: other.subs[0]! }] },
      moveOf(0),
    ),
  );
  const k = (await fx.database.db('kernels').where({ id: other.subs[0] }).first()) as KernelRow;
  t.is(k.logs, null);
  t.is(k.status, 'RUNNING');
});
