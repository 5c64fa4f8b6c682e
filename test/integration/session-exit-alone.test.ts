import test from 'ava';
import { PREPARE_STATUSES, type SessionStatus } from '../../src/domain/status.js';
import type { SessionRow } from '../../src/persistence/rows.js';
import {
  exitAlone,
  type ExitGuard,
  type ExitMove,
  type KernelExit,
} from '../../src/persistence/session-exit.js';
import { SessionStore } from '../../src/persistence/session-store.js';
import { exitMoveOf as moveOf, exitOf, STARTED } from '../helpers/session-reports.js';
import {
  callbacksOf,
  newSession,
  sameCallbacks,
  storeFixture,
  whileSessionLocked,
  written,
  type Made,
} from '../helpers/session-rows.js';

/**
 * The exit report's statement on its own (session-exit.ts's exitAlone: no transaction, no lock
 * read, its guard in the UPDATE, its events built in SQL) against the statements one by one
 * the transaction takes, on a real PostgreSQL: the same rows, the same events in the same
 * order, the same callback deliveries (built in SQL here, in JS there); and when its guard
 * refuses, nothing written at all.
 */
const fx = storeFixture(test);
/** The statement on its own, as it waits on the session's lock. */
const TERMINATE = "UPDATE sessions SET status = 'TERMINATED'";

async function rowOf(m: Made): Promise<SessionRow> {
  return (await fx.database.db('sessions').where({ id: m.id }).first()) as SessionRow;
}

async function guardOf(m: Made, extra: Partial<ExitGuard> = {}): Promise<ExitGuard> {
  const s = await rowOf(m);
  return { agentId: 'agent-x', attempt: s.attempt, notFrom: [], noRetryPolicy: false, ...extra };
}

/** The statements one by one, as the report handler's transaction runs them. */
async function stepByStep(m: Made, exit: KernelExit, move: Omit<ExitMove, 'startedAt'>): Promise<boolean> {
  return fx.store.inTransaction(async (trx) => {
    const s = (await fx.store.lockIn(trx, m.id))!;
    await fx.store.recordKernelExitIn(trx, exit.kernelId, exit);
    for (const sub of exit.subLogs) await fx.store.recordKernelLogsIn(trx, m.id, sub.kernelId, sub);
    const row = await fx.store.transitionIn(trx, m.id, 'TERMINATED', {
      ...move,
      set: { started_at: s.started_at ?? exit.startedAt },
      kernels: true,
    });
    return row !== null;
  });
}

/** Whether the statement on its own moved the session (it returns null when it did not). */
const moved = async (out: Promise<unknown>): Promise<boolean> => (await out) !== null;

async function alone(m: Made, exit: KernelExit, move: Omit<ExitMove, 'startedAt'>): Promise<boolean> {
  const guard = await guardOf(m);
  return moved(fx.store.alone((db) => exitAlone(db, m.id, exit, move, exit.startedAt, guard)));
}

const HOOK = { callback_url: 'http://hook.invalid/x' };

const cases: {
  name: string;
  to: SessionStatus[];
  exitCode: number;
  extra?: Partial<SessionRow>;
  /** The callback events it has queued in the end (with a callback_url). */
  callbacks?: string[];
}[] = [
  { name: 'exit 0 of a RUNNING batch session', to: ['SCHEDULED', 'PREPARING', 'RUNNING'], exitCode: 0 },
  { name: 'exit 3 of a RUNNING batch session', to: ['SCHEDULED', 'PREPARING', 'RUNNING'], exitCode: 3 },
  { name: 'an out-of-memory exit', to: ['SCHEDULED', 'PREPARING', 'RUNNING'], exitCode: 137 },
  { name: 'an exit of a session never RUNNING', to: ['SCHEDULED', 'PREPARING'], exitCode: 0 },
  {
    name: 'an interactive session (no result event)',
    to: ['SCHEDULED', 'PREPARING', 'RUNNING'],
    exitCode: 0,
    extra: { type: 'interactive' },
  },
  { name: 'a session that went through ERROR', to: ['SCHEDULED', 'PREPARING', 'ERROR'], exitCode: 1 },
  {
    name: "a schedule's session",
    to: ['SCHEDULED', 'PREPARING', 'RUNNING'],
    exitCode: 0,
    extra: { schedule_name: 'nightly', scheduled_for: new Date('2026-11-29T09:00:00.123Z') },
  },
  {
    name: 'exit 0 with a callback_url',
    to: ['SCHEDULED', 'PREPARING', 'RUNNING'],
    exitCode: 0,
    extra: HOOK,
    callbacks: ['enqueued', 'started', 'success', 'terminated'],
  },
  {
    name: 'exit 3 with a callback_url',
    to: ['SCHEDULED', 'PREPARING', 'RUNNING'],
    exitCode: 3,
    extra: HOOK,
    callbacks: ['enqueued', 'started', 'failure', 'terminated'],
  },
  {
    name: 'an interactive session with a callback_url',
    to: ['SCHEDULED', 'PREPARING', 'RUNNING'],
    exitCode: 0,
    extra: { ...HOOK, type: 'interactive' },
    callbacks: ['enqueued', 'started', 'terminated'],
  },
  {
    name: 'a session with a callback_url that went through ERROR',
    to: ['SCHEDULED', 'PREPARING', 'ERROR'],
    exitCode: 1,
    extra: HOOK,
    callbacks: ['enqueued', 'failure', 'terminated'],
  },
];

for (const c of cases) {
  test(`${c.name}: the statement on its own writes what the statements one by one wrote`, async (t) => {
    const a = await newSession(fx, `steps-${c.name}`, c.to, c.extra);
    const b = await newSession(fx, `alone-${c.name}`, c.to, c.extra);
    t.true(await stepByStep(a, exitOf(a, c.exitCode), moveOf(c.exitCode)));
    t.true(await alone(b, exitOf(b, c.exitCode), moveOf(c.exitCode)));
    const before = await written(fx, a);
    const after = await written(fx, b);
    t.deepEqual(after, before);
    t.is(after.session.status, 'TERMINATED');
    t.is(after.attempts.length, 1);
    t.true(after.events.some((e) => e.name === 'session_terminated'));
    await sameCallbacks(t, fx, b.id, a.id, c.callbacks ?? []);
    if (c.extra?.schedule_name) {
      const { rows } = (await fx.database.db.raw(
        `SELECT data FROM session_events WHERE session_id = ? AND name = 'session_terminated'`,
        [b.id],
      )) as { rows: { data: Record<string, unknown> }[] };
      t.is(rows[0]!.data.scheduleName, 'nightly');
      t.is(rows[0]!.data.scheduledFor, '2026-11-29T09:00:00.123Z');
    }
  });
}

test('a started_at already set is kept (the container start only fills one that is missing)', async (t) => {
  const a = await newSession(fx, 'keep-steps', ['SCHEDULED', 'PREPARING', 'RUNNING']);
  const b = await newSession(fx, 'keep-alone', ['SCHEDULED', 'PREPARING', 'RUNNING']);
  const at = new Date('2026-11-29T08:00:00.000Z');
  await fx.database.db('sessions').whereIn('id', [a.id, b.id]).update({ started_at: at });
  t.true(await stepByStep(a, exitOf(a, 0), moveOf(0)));
  t.true(await alone(b, exitOf(b, 0), moveOf(0)));
  t.deepEqual(await written(fx, b), await written(fx, a));
  t.is((await rowOf(b)).started_at?.toISOString(), at.toISOString());
});

const refusals: {
  name: string;
  to: SessionStatus[];
  extra?: Partial<SessionRow>;
  guard?: Partial<ExitGuard>;
}[] = [
  { name: 'another agent', to: ['SCHEDULED', 'PREPARING', 'RUNNING'], guard: { agentId: 'agent-y' } },
  { name: 'an earlier attempt', to: ['SCHEDULED', 'PREPARING', 'RUNNING'], guard: { attempt: -1 } },
  {
    name: 'a retry policy on an exit it may retry',
    to: ['SCHEDULED', 'PREPARING', 'RUNNING'],
    extra: { retry_policy: { maxAttempts: 3 } as unknown as SessionRow['retry_policy'] },
    guard: { noRetryPolicy: true },
  },
  {
    name: 'an exit overtaking its RUNNING',
    to: ['SCHEDULED', 'PREPARING'],
    guard: { notFrom: PREPARE_STATUSES },
  },
  { name: 'a session ended already', to: ['SCHEDULED', 'PREPARING', 'RUNNING', 'TERMINATED'] },
  { name: 'a cancelled session', to: ['CANCELLED'] },
];

for (const r of refusals) {
  test(`${r.name}: the guard refuses and nothing is written`, async (t) => {
    const m = await newSession(fx, `refused-${r.name}`, r.to, r.extra);
    const before = await written(fx, m);
    const guard = await guardOf(m, r.guard);
    t.false(
      await moved(fx.store.alone((db) => exitAlone(db, m.id, exitOf(m, 3), moveOf(3), STARTED, guard))),
    );
    t.deepEqual(await written(fx, m), before);
  });
}

test.serial(
  'a session cancelled while the statement waits on its lock: the statement sees it and writes nothing',
  async (t) => {
    const m = await newSession(fx, 'waits', ['SCHEDULED', 'PREPARING', 'RUNNING']);
    const guard = await guardOf(m);
    const before = await written(fx, m);
    const exited = await whileSessionLocked(
      fx,
      m.id,
      TERMINATE,
      () => moved(fx.store.alone((db) => exitAlone(db, m.id, exitOf(m, 0), moveOf(0), STARTED, guard))),
      (trx) => trx('sessions').where({ id: m.id }).update({ status: 'CANCELLED' }),
    );
    t.false(exited);
    const after = await written(fx, m);
    t.is(after.session.status, 'CANCELLED');
    t.deepEqual(after.kernels, before.kernels);
    t.deepEqual(after.events, before.events);
    t.deepEqual(after.attempts, []);
  },
);

test.serial(
  "kernels moved while the statement waits on the session's lock are read as they now stand",
  async (t) => {
    const a = await newSession(fx, 'stale-steps', ['SCHEDULED', 'PREPARING', 'RUNNING']);
    const b = await newSession(fx, 'stale-alone', ['SCHEDULED', 'PREPARING', 'RUNNING']);
    // A sub that ended on its own, before the exit (a, one by one) or while it waits (b).
    const endSub = (db: typeof fx.database.db, m: Made) =>
      db('kernels')
        .where({ id: m.subs[1] })
        .update({
          status: 'TERMINATED',
          status_history: fx.database.db.raw(`status_history || '{"TERMINATED": "x"}'`),
        });
    await endSub(fx.database.db, a);
    t.true(await stepByStep(a, exitOf(a, 0), moveOf(0)));
    const guard = await guardOf(b);
    const exited = await whileSessionLocked(
      fx,
      b.id,
      TERMINATE,
      () => moved(fx.store.alone((db) => exitAlone(db, b.id, exitOf(b, 0), moveOf(0), STARTED, guard))),
      (trx) => endSub(trx, b),
    );
    t.true(exited);
    const after = await written(fx, b);
    t.deepEqual(after, await written(fx, a));
    t.false(after.events.some((e) => e.name === 'kernel_terminated' && e.kernel === 'sub2'));
  },
);

test('the statement on its own tells the webhook sender when it queued deliveries, and only then', async (t) => {
  let queued = 0;
  const told = new SessionStore(fx.database.db, {
    eventsCommitted() {},
    callbacksQueued: () => (queued += 1),
  });
  const plain = await newSession(fx, 'tells-none', ['SCHEDULED', 'PREPARING', 'RUNNING']);
  const hooked = await newSession(fx, 'tells-hook', ['SCHEDULED', 'PREPARING', 'RUNNING'], HOOK);
  const run = async (m: Made) => {
    const guard = await guardOf(m);
    return told.alone((db) => exitAlone(db, m.id, exitOf(m, 0), moveOf(0), STARTED, guard));
  };
  t.deepEqual(await run(plain), { callbacksQueued: false });
  t.is(queued, 0);
  t.deepEqual(await run(hooked), { callbacksQueued: true });
  t.is(queued, 1);
  t.deepEqual(
    (await callbacksOf(fx, hooked.id)).map((c) => c.event),
    ['enqueued', 'started', 'success', 'terminated'],
  );
});
