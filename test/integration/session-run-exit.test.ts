import test from 'ava';
import { chainFromAny, type PhaseStep } from '../../src/domain/phase-chain.js';
import { PREPARE_STATUSES, type SessionStatus } from '../../src/domain/status.js';
import type { SessionRow } from '../../src/persistence/rows.js';
import { exitAlone, type ExitMove, type KernelExit } from '../../src/persistence/session-exit.js';
import { movePhasesAlone } from '../../src/persistence/session-phases-at-once.js';
import {
  runAndExitAlone,
  runAndExitApplies,
  type RunExitGuard,
} from '../../src/persistence/session-run-exit.js';
import { exitMoveOf, exitOf as clusterExitOf, phaseSteps } from '../helpers/session-reports.js';
import {
  newSession,
  sameCallbacks,
  sessionRows,
  storeFixture,
  whileSessionLocked,
  writtenAndContainers,
  type Made,
} from '../helpers/session-rows.js';

/**
 * A held RUNNING report and the exit that carries it as ONE statement on its own
 * (session-run-exit.ts) against the two statements the report handler ran for them in turn
 * (movePhasesAlone, then exitAlone), on a real PostgreSQL: the same rows, the same events in
 * the same order, the same callback deliveries, the same attempt; and when its guard refuses,
 * nothing written at all.
 */
const fx = storeFixture(test);
const HOOK = { callback_url: 'http://hook.invalid/x' };

/** A batch session of one kernel (its main), placed on `agent-x` and moved to `to`. */
async function single(name: string, to: SessionStatus[], extra: Partial<SessionRow> = {}): Promise<Made> {
  const { made, session, kernels } = sessionRows(fx, name, { cluster_size: 1, ...extra });
  await fx.store.insert(
    session,
    kernels.filter((k) => k.id === made.main),
    [],
  );
  for (const status of to) {
    const set = status === 'SCHEDULED' ? { agent_id: 'agent-x' } : {};
    if (!(await fx.store.transition(made.id, status, { kernels: true, set })))
      throw new Error(`the move to ${status} was refused`);
  }
  return { ...made, subs: [] };
}

/** The main's exit, without the subs' output of the helpers' cluster sessions. */
const exitOf = (m: Made, exitCode: number): KernelExit => ({ ...clusterExitOf(m, exitCode), subLogs: [] });
const containersOf = (m: Made) => [{ kernelId: m.main, containerId: 'c-main' }];

async function attemptOf(m: Made): Promise<number> {
  return ((await fx.database.db('sessions').where({ id: m.id }).first()) as SessionRow).attempt;
}

/** The two statements, as the handler ran them: the held RUNNING's phases, then the exit. */
async function twoStatements(
  m: Made,
  steps: PhaseStep[],
  move: Omit<ExitMove, 'startedAt'>,
): Promise<boolean> {
  const any = chainFromAny(steps)!;
  const attempt = await attemptOf(m);
  const ran = await fx.store.alone((db) =>
    movePhasesAlone(db, m.id, any.chain, containersOf(m), { agentId: 'agent-x', attempt, from: any.from }),
  );
  if (!ran) return false;
  const exit = exitOf(m, move.exitCode);
  const guard = { agentId: 'agent-x', attempt, notFrom: PREPARE_STATUSES, noRetryPolicy: false };
  return (await fx.store.alone((db) => exitAlone(db, m.id, exit, move, exit.startedAt, guard))) !== null;
}

/** The one statement, as the handler runs it now. */
async function oneStatement(
  m: Made,
  steps: PhaseStep[],
  move: Omit<ExitMove, 'startedAt'>,
  extra: Partial<RunExitGuard> = {},
) {
  const any = chainFromAny(steps)!;
  const exit = exitOf(m, move.exitCode);
  const guard: RunExitGuard = {
    agentId: 'agent-x',
    attempt: await attemptOf(m),
    from: any.from,
    noRetryPolicy: false,
    ...extra,
  };
  return fx.store.alone((db) =>
    runAndExitAlone(db, m.id, { chain: any.chain, containers: containersOf(m), exit, move }, guard),
  );
}

const cases: {
  name: string;
  from: SessionStatus[];
  steps: () => PhaseStep[];
  exitCode: number;
  extra?: Partial<SessionRow>;
}[] = [
  { name: 'exit 0 after every phase', from: ['SCHEDULED'], steps: phaseSteps, exitCode: 0 },
  { name: 'exit 3 after every phase', from: ['SCHEDULED'], steps: phaseSteps, exitCode: 3 },
  { name: 'an out-of-memory exit', from: ['SCHEDULED'], steps: phaseSteps, exitCode: 137 },
  {
    name: 'RUNNING alone, the phases before it reported on their own',
    from: ['SCHEDULED', 'PREPARING', 'PREPARED', 'CREATING'],
    steps: () => phaseSteps().slice(-1),
    exitCode: 0,
  },
  {
    name: 'a schedule session',
    from: ['SCHEDULED'],
    steps: phaseSteps,
    exitCode: 1,
    extra: { schedule_name: 'nightly', scheduled_for: new Date('2026-11-29T09:00:00.000Z') },
  },
];

for (const c of cases) {
  test(`${c.name}: the one statement writes what the two wrote`, async (t) => {
    const slug = c.name.replace(/\W+/g, '-');
    const a = await single(`two-${slug}`, c.from, { ...HOOK, ...c.extra });
    const b = await single(`one-${slug}`, c.from, { ...HOOK, ...c.extra });
    const move = exitMoveOf(c.exitCode);
    t.true(runAndExitApplies(chainFromAny(c.steps())!.chain, exitOf(b, c.exitCode)));
    t.true(await twoStatements(a, c.steps(), move));
    const moved = await oneStatement(b, c.steps(), move);
    t.like(moved, {
      startedAt: Date.parse('2026-11-29T10:00:00.004Z'),
      scalingGroup: 'default',
      callbacksQueued: true,
    });
    const two = await writtenAndContainers(fx, a);
    t.deepEqual(await writtenAndContainers(fx, b), two);
    t.is(two.session.status, 'TERMINATED');
    t.deepEqual(two.events.map((e) => e.name).slice(-3), [
      'kernel_terminated',
      c.exitCode === 0 ? 'session_success' : 'session_failure',
      'session_terminated',
    ]);
    t.true(two.events.some((e) => e.name === 'session_started'));
    await sameCallbacks(t, fx, b.id, a.id, [
      'enqueued',
      'started',
      c.exitCode === 0 ? 'success' : 'failure',
      'terminated',
    ]);
    // A repeat: the session has ended, so the guard refuses and nothing is written.
    const before = await writtenAndContainers(fx, b);
    t.is(await oneStatement(b, c.steps(), move), null);
    t.deepEqual(await writtenAndContainers(fx, b), before);
  });
}

/** The callback events queued for a session, in order. */
async function callbacksNames(id: string): Promise<string[]> {
  const rows = (await fx.database.db('webhook_deliveries').where({ session_id: id }).orderBy('id')) as {
    body: string;
  }[];
  return rows.map((r) => (JSON.parse(r.body) as { event: string }).event);
}

test('without a callback_url, no delivery is queued and the caller is told so', async (t) => {
  const m = await single('one-no-hook', ['SCHEDULED']);
  t.like(await oneStatement(m, phaseSteps(), exitMoveOf(0)), { callbacksQueued: false });
  t.deepEqual(await callbacksNames(m.id), []);
});

const refusals: { name: string; make: () => Promise<Made>; extra?: Partial<RunExitGuard> }[] = [
  {
    name: 'a cluster session (its subs move and report on their own)',
    make: () => newSession(fx, 'one-cluster', ['SCHEDULED']),
  },
  {
    name: 'another agent',
    make: () => single('one-other-agent', ['SCHEDULED']),
    extra: { agentId: 'agent-y' },
  },
  { name: 'another attempt', make: () => single('one-other-attempt', ['SCHEDULED']), extra: { attempt: 7 } },
  {
    name: 'a failure a retry policy may retry',
    make: () =>
      single('one-retry', ['SCHEDULED'], {
        retry_policy: { maxAttempts: 2, backoff: 'fixed', delaySeconds: 1, on: ['non-zero-exit'] },
      }),
    extra: { noRetryPolicy: true },
  },
  {
    name: "a session already RUNNING (not among the phases' statuses)",
    make: () => single('one-running', ['SCHEDULED', 'PREPARING', 'RUNNING']),
  },
];

for (const r of refusals) {
  test(`${r.name}: the guard refuses and nothing is written`, async (t) => {
    const m = await r.make();
    const before = await writtenAndContainers(fx, m);
    t.is(await oneStatement(m, phaseSteps(), exitMoveOf(3), r.extra), null);
    t.deepEqual(await writtenAndContainers(fx, m), before);
    t.deepEqual(await callbacksNames(m.id), []);
  });
}

test("an exit with its subs' output, or phases that do not end RUNNING, are left to the two statements", (t) => {
  const chain = chainFromAny(phaseSteps())!.chain;
  const exit = {
    ...exitOf({ id: 'x', main: 'k', subs: [] }, 0),
    subLogs: [{ kernelId: 's', logs: '', logsTruncated: false, logsBytes: 0 }],
  };
  t.false(runAndExitApplies(chain, exit));
  t.false(
    runAndExitApplies({ moved: phaseSteps().slice(0, 2) }, exitOf({ id: 'x', main: 'k', subs: [] }, 0)),
  );
});

test.serial('a session cancelled while the statement waits on its lock: nothing is written', async (t) => {
  const m = await single('one-cancelled-meanwhile', ['SCHEDULED'], HOOK);
  const out = await whileSessionLocked(
    fx,
    m.id,
    'FOR UPDATE',
    () => oneStatement(m, phaseSteps(), exitMoveOf(0)),
    (trx) => fx.store.transitionIn(trx, m.id, 'CANCELLED', { info: 'user-requested', kernels: true }),
  );
  t.is(out, null);
  const w = await writtenAndContainers(fx, m);
  t.is(w.session.status, 'CANCELLED');
  t.false(w.events.some((e) => e.name === 'session_started' || e.name === 'kernel_terminated'));
});

test.serial(
  'a phase written while the statement waits on its lock: the events read the row as it became',
  async (t) => {
    const a = await single('two-moved-meanwhile', ['SCHEDULED', 'PREPARING']);
    const b = await single('one-moved-meanwhile', ['SCHEDULED']);
    const steps = () => phaseSteps().slice(-1);
    t.true(await twoStatements(a, steps(), exitMoveOf(0)));
    const out = await whileSessionLocked(
      fx,
      b.id,
      'FOR UPDATE',
      () =>
        oneStatement(b, steps(), exitMoveOf(0), { from: ['SCHEDULED', 'PREPARING', 'PREPARED', 'CREATING'] }),
      (trx) => fx.store.transitionIn(trx, b.id, 'PREPARING', { kernels: true }),
    );
    t.not(out, null);
    t.deepEqual(await writtenAndContainers(fx, b), await writtenAndContainers(fx, a));
  },
);

/** The session's events as session_events holds them, in id order, after id `after`. */
async function storedEvents(id: string, after: number) {
  return fx.database
    .db('session_events')
    .where({ session_id: id })
    .andWhere('id', '>', after)
    .orderBy('id')
    .select('id', 'session_id', 'kernel_id', 'access_key', 'name', 'data', 'created_at');
}

async function maxEventId(): Promise<number> {
  const r = (await fx.database.db('session_events').max('id as max').first()) as { max: number | null };
  return Number(r.max ?? 0);
}

test('asked for them, each statement on its own returns the events it wrote, as session_events holds them', async (t) => {
  // The phases (RUNNING) and the exit, each on its own.
  const a = await single('events-two', ['SCHEDULED'], HOOK);
  const any = chainFromAny(phaseSteps())!;
  const attempt = await attemptOf(a);
  let mark = await maxEventId();
  // As the manager's store asks while someone listens (EventsNotifier.wantsEvents).
  const phases = await movePhasesAlone(
    fx.database.db,
    a.id,
    any.chain,
    containersOf(a),
    { agentId: 'agent-x', attempt, from: any.from },
    true,
  );
  t.truthy(phases?.events);
  t.deepEqual(phases!.events, await storedEvents(a.id, mark));
  t.true(phases!.events!.some((e) => e.name === 'session_started'));
  mark = await maxEventId();
  const exit = exitOf(a, 0);
  const move = exitMoveOf(0);
  const guard = { agentId: 'agent-x', attempt, notFrom: PREPARE_STATUSES, noRetryPolicy: false };
  const ended = await exitAlone(fx.database.db, a.id, exit, move, exit.startedAt, guard, true);
  t.deepEqual(ended!.events, await storedEvents(a.id, mark));
  t.deepEqual(
    ended!.events!.map((e) => e.name),
    ['kernel_terminated', 'session_success', 'session_terminated'],
  );

  // The held RUNNING and the exit in one statement; and not asked for: none, as before.
  const b = await single('events-one', ['SCHEDULED'], HOOK);
  mark = await maxEventId();
  const both = await runAndExitAlone(
    fx.database.db,
    b.id,
    { chain: any.chain, containers: containersOf(b), exit: exitOf(b, 0), move },
    { agentId: 'agent-x', attempt: await attemptOf(b), from: any.from, noRetryPolicy: false },
    true,
  );
  t.deepEqual(both!.events, await storedEvents(b.id, mark));
  t.is(both!.events!.at(-1)!.name, 'session_terminated');
  // A store whose notifier asks for none (nobody listens): none built, none returned.
  const c = await single('events-none', ['SCHEDULED'], HOOK);
  const quiet = await oneStatement(c, phaseSteps(), move);
  t.truthy(quiet);
  t.false('events' in quiet!, 'not asked for: no events built');
});
