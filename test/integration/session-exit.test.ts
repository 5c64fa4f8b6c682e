import test from 'ava';
import type { SessionStatus } from '../../src/domain/status.js';
import type { KernelRow, SessionRow } from '../../src/persistence/rows.js';
import type { ExitMove, KernelExit } from '../../src/persistence/session-exit.js';
import { SessionStore } from '../../src/persistence/session-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';
import { newSession, sameCallbacks, written, type Made } from '../helpers/session-rows.js';

/**
 * The exit report's one statement (session-exit.ts) against the statements one by one it
 * replaces (the kernel's exit, the subs' output, the guarded move of the session and its
 * kernels with their events, the attempt), on a real PostgreSQL: the same rows, the same
 * events in the same order, the same callback deliveries, the same guards.
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

function exitOf(m: Made, exitCode: number): KernelExit {
  return {
    kernelId: m.main,
    exitCode,
    logs: 'out\n',
    logsTruncated: false,
    logsBytes: 4,
    startedAt: new Date('2026-11-29T10:00:00.000Z'),
    subLogs: [
      { kernelId: m.subs[0]!, logs: 'sub1\n', logsTruncated: true, logsBytes: 90_000 },
      { kernelId: m.subs[1]!, logs: 'sub2\n', logsTruncated: false, logsBytes: 5 },
    ],
  };
}

function moveOf(exitCode: number): ExitMove {
  return {
    info: exitCode === 0 ? 'task-finished' : 'task-failed',
    data: { exitCode },
    result: exitCode === 0 ? 'SUCCESS' : 'FAILURE',
    exitCode,
    startedAt: new Date('2026-11-29T10:00:00.000Z'),
  };
}

/** The statements one by one, as the report handler ran them before. */
async function stepByStep(m: Made, exit: KernelExit, move: ExitMove): Promise<boolean> {
  return store.inTransaction(async (trx) => {
    await store.lockIn(trx, m.id);
    await store.recordKernelExitIn(trx, exit.kernelId, exit);
    for (const sub of exit.subLogs) await store.recordKernelLogsIn(trx, m.id, sub.kernelId, sub);
    const row = await store.transitionIn(trx, m.id, 'TERMINATED', {
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
  return store.inTransaction(async (trx) => {
    const s = (await store.lockIn(trx, m.id))!;
    return store.exitAndTerminateIn(trx, s, exit, move);
  });
}

for (const exitCode of [0, 3]) {
  test(`exit ${exitCode} of a RUNNING session: the one statement writes what the statements one by one wrote`, async (t) => {
    const a = await newSession(store, database, `one-by-one-${exitCode}`, [
      'SCHEDULED',
      'PREPARING',
      'RUNNING',
    ]);
    const b = await newSession(store, database, `in-one-${exitCode}`, ['SCHEDULED', 'PREPARING', 'RUNNING']);
    t.true(await stepByStep(a, exitOf(a, exitCode), moveOf(exitCode)));
    t.true(await inOne(b, exitOf(b, exitCode), moveOf(exitCode)));
    const before = await written(database, a);
    const after = await written(database, b);
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
    const a = await newSession(store, database, `hook-one-by-one-${exitCode}`, to, hook);
    const b = await newSession(store, database, `hook-in-one-${exitCode}`, to, hook);
    t.true(await stepByStep(a, exitOf(a, exitCode), moveOf(exitCode)));
    let queued = 0;
    const told = new SessionStore(database.db, {
      eventsCommitted() {},
      callbacksQueued: () => (queued += 1),
    });
    t.true(
      await told.inTransaction(async (trx) =>
        told.exitAndTerminateIn(trx, (await told.lockIn(trx, b.id))!, exitOf(b, exitCode), moveOf(exitCode)),
      ),
    );
    t.is(queued, 1);
    t.deepEqual(await written(database, b), await written(database, a));
    const result = exitCode === 0 ? 'success' : 'failure';
    await sameCallbacks(t, database, b.id, a.id, ['enqueued', 'started', result, 'terminated']);
  });
}

test('a repeated exit changes nothing: no second event, no second attempt', async (t) => {
  const m = await newSession(store, database, 'repeat', ['SCHEDULED', 'PREPARING', 'RUNNING']);
  t.true(await inOne(m, exitOf(m, 0), moveOf(0)));
  const first = await written(database, m);
  // The handler stops at a terminal status before this; the statement's own guard holds too.
  t.false(await inOne(m, { ...exitOf(m, 0), logs: 'again\n' }, moveOf(0)));
  const second = await written(database, m);
  t.deepEqual(second.events, first.events);
  t.deepEqual(second.attempts, first.attempts);
  t.is(second.session.status, 'TERMINATED');
});

test('a session that may not move to TERMINATED (cancelled meanwhile) keeps its status; the exit and output are still written', async (t) => {
  for (const [name, run] of [
    ['guard-one-by-one', stepByStep],
    ['guard-in-one', inOne],
  ] as const) {
    const m = await newSession(store, database, name, ['SCHEDULED']);
    await database.db('sessions').where({ id: m.id }).update({ status: 'CANCELLED' });
    t.false(await run(m, exitOf(m, 0), moveOf(0)));
  }
  const [a, b] = await Promise.all(
    ['guard-one-by-one', 'guard-in-one'].map(async (name) => {
      const s = (await database.db('sessions').where({ name }).first()) as SessionRow;
      const ks = (await database.db('kernels').where({ session_id: s.id }).orderBy('id')) as KernelRow[];
      return written(database, { id: s.id, main: '', subs: ks.map((k) => k.id) });
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
  const m = await newSession(store, database, 'subs-own', ['SCHEDULED', 'PREPARING', 'RUNNING']);
  const other = await newSession(store, database, 'subs-other', ['SCHEDULED', 'PREPARING', 'RUNNING']);
  const exit = exitOf(m, 0);
  t.true(
    await inOne(
      m,
      { ...exit, subLogs: [...exit.subLogs, { ...exit.subLogs[0]!, kernelId: other.subs[0]! }] },
      moveOf(0),
    ),
  );
  const k = (await database.db('kernels').where({ id: other.subs[0] }).first()) as KernelRow;
  t.is(k.logs, null);
  t.is(k.status, 'RUNNING');
});
