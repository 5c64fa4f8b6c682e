import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { SessionStatus } from '../../src/domain/status.js';
import { toJsonColumns } from '../../src/persistence/json-columns.js';
import type { KernelRow, SessionRow } from '../../src/persistence/rows.js';
import type { ExitMove, KernelExit } from '../../src/persistence/session-exit.js';
import { SessionStore } from '../../src/persistence/session-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

/**
 * The exit report's one statement (session-exit.ts) against the statements one by one it
 * replaces (the kernel's exit, the subs' output, the guarded move of the session and its
 * kernels with their events, the attempt), on a real PostgreSQL: the same rows, the same
 * events in the same order, the same guards.
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

interface Made {
  id: string;
  main: string;
  subs: string[];
}

/** A batch session with a main and two subs, placed on `agent-x` and moved to `to`. */
async function newSession(name: string, to: SessionStatus[], extra: Partial<SessionRow> = {}): Promise<Made> {
  const id = randomUUID();
  const now = new Date().toISOString();
  const kernel = (role: 'main' | 'sub', idx: number) =>
    toJsonColumns({
      id: randomUUID(),
      session_id: id,
      cluster_role: role,
      cluster_idx: idx,
      cluster_hostname: `${role}${idx}`,
      status: 'PENDING',
      status_history: { PENDING: now },
      occupied_slots: {},
    } as Partial<KernelRow>);
  const kernels = [kernel('sub', 2), kernel('main', 1), kernel('sub', 1)];
  await store.insert(
    toJsonColumns({
      id,
      name,
      access_key: database.admin.accessKey,
      domain_name: 'default',
      group_name: 'default',
      scaling_group: 'default',
      type: 'batch',
      status: 'PENDING',
      status_history: { PENDING: now },
      image: 'python',
      requested_image: 'python',
      startup_command: 'true',
      requested_slots: {},
      cluster_size: 3,
      ...extra,
    } as Partial<SessionRow>),
    kernels,
    [],
  );
  for (const status of to) {
    const set = status === 'SCHEDULED' ? { agent_id: 'agent-x' } : {};
    const row = await store.transition(id, status, { kernels: true, set });
    if (!row) throw new Error(`the move to ${status} was refused`);
  }
  return {
    id,
    main: kernels[1]!.id as string,
    subs: [kernels[2]!.id as string, kernels[0]!.id as string],
  };
}

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

/** What a session's rows say, without its ids, name and times. */
async function written(m: Made) {
  const s = (await database.db('sessions').where({ id: m.id }).first()) as SessionRow;
  const kernels = (await database
    .db('kernels')
    .where({ session_id: m.id })
    .orderBy([{ column: 'cluster_role' }, 'cluster_idx'])) as KernelRow[];
  const events = (await database.db('session_events').where({ session_id: m.id }).orderBy('id')) as {
    kernel_id: string | null;
    name: string;
    data: Record<string, unknown>;
  }[];
  const attempts = (await database.db('session_attempts').where({ session_id: m.id })) as Record<
    string,
    unknown
  >[];
  const position = (kernelId: string | null) => {
    const k = kernels.find((x) => x.id === kernelId);
    return k ? `${k.cluster_role}${k.cluster_idx}` : null;
  };
  return {
    session: {
      status: s.status,
      statuses: Object.keys(s.status_history),
      status_info: s.status_info,
      status_data: s.status_data,
      result: s.result,
      exit_code: s.exit_code,
      started_at: s.started_at?.toISOString() ?? null,
      ended: s.terminated_at !== null,
    },
    kernels: kernels.map((k) => ({
      position: position(k.id),
      status: k.status,
      statuses: Object.keys(k.status_history),
      status_info: k.status_info,
      exit_code: k.exit_code,
      logs: k.logs,
      logs_truncated: k.logs_truncated,
      logs_bytes: k.logs_bytes === null ? null : Number(k.logs_bytes),
      started_at: k.started_at?.toISOString() ?? null,
      ended: k.terminated_at !== null,
    })),
    events: events.map((e) => {
      const { sessionId, sessionName, kernelId, ...data } = e.data;
      return {
        name: e.name,
        kernel: position(e.kernel_id),
        data,
        ids: sessionId === m.id && sessionName !== undefined && kernelId === (e.kernel_id ?? undefined),
      };
    }),
    attempts: attempts.map(({ session_id, ended_at, ...a }) => ({
      ...a,
      own: session_id === m.id && ended_at !== null,
    })),
  };
}

for (const exitCode of [0, 3]) {
  test(`exit ${exitCode} of a RUNNING session: the one statement writes what the statements one by one wrote`, async (t) => {
    const a = await newSession(`one-by-one-${exitCode}`, ['SCHEDULED', 'PREPARING', 'RUNNING']);
    const b = await newSession(`in-one-${exitCode}`, ['SCHEDULED', 'PREPARING', 'RUNNING']);
    t.true(await stepByStep(a, exitOf(a, exitCode), moveOf(exitCode)));
    t.true(await inOne(b, exitOf(b, exitCode), moveOf(exitCode)));
    const before = await written(a);
    const after = await written(b);
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

test('a repeated exit changes nothing: no second event, no second attempt', async (t) => {
  const m = await newSession('repeat', ['SCHEDULED', 'PREPARING', 'RUNNING']);
  t.true(await inOne(m, exitOf(m, 0), moveOf(0)));
  const first = await written(m);
  // The handler stops at a terminal status before this; the statement's own guard holds too.
  t.false(await inOne(m, { ...exitOf(m, 0), logs: 'again\n' }, moveOf(0)));
  const second = await written(m);
  t.deepEqual(second.events, first.events);
  t.deepEqual(second.attempts, first.attempts);
  t.is(second.session.status, 'TERMINATED');
});

test('a session that may not move to TERMINATED (cancelled meanwhile) keeps its status; the exit and output are still written', async (t) => {
  for (const [name, run] of [
    ['guard-one-by-one', stepByStep],
    ['guard-in-one', inOne],
  ] as const) {
    const m = await newSession(name, ['SCHEDULED']);
    await database.db('sessions').where({ id: m.id }).update({ status: 'CANCELLED' });
    t.false(await run(m, exitOf(m, 0), moveOf(0)));
  }
  const [a, b] = await Promise.all(
    ['guard-one-by-one', 'guard-in-one'].map(async (name) => {
      const s = (await database.db('sessions').where({ name }).first()) as SessionRow;
      const ks = (await database.db('kernels').where({ session_id: s.id }).orderBy('id')) as KernelRow[];
      return written({ id: s.id, main: '', subs: ks.map((k) => k.id) });
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
  const m = await newSession('subs-own', ['SCHEDULED', 'PREPARING', 'RUNNING']);
  const other = await newSession('subs-other', ['SCHEDULED', 'PREPARING', 'RUNNING']);
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
