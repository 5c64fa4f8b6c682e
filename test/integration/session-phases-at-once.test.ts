import test from 'ava';
import { randomUUID } from 'node:crypto';
import type { SessionStatus } from '../../src/domain/status.js';
import { toJsonColumns } from '../../src/persistence/json-columns.js';
import type { KernelRow, SessionRow } from '../../src/persistence/rows.js';
import type { PhaseStep } from '../../src/domain/phase-chain.js';
import { SessionStore } from '../../src/persistence/session-store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/database.js';

/**
 * A progress report's phases in one statement (session-phases-at-once.ts, sessions without a
 * callback_url) against the three statements a session with a callback_url still takes, on a
 * real PostgreSQL: the same rows, the same events in the same order.
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

async function applyPhases(m: Made, phases: PhaseStep[]): Promise<number | null> {
  return store.inTransaction(async (trx) => {
    const s = (await store.lockIn(trx, m.id))!;
    const moved = await store.movePhasesIn(trx, s, phases, [
      { kernelId: m.main, containerId: 'c-main' },
      { kernelId: m.subs[0]!, containerId: 'c-sub1' },
    ]);
    return moved?.startedAt ?? null;
  });
}

/** written() with what differs between the two on purpose left out (the callback_url). */
async function same(m: Made) {
  const w = await written(m);
  const s = (await database
    .db('kernels')
    .where({ session_id: m.id })
    .orderBy([{ column: 'cluster_role' }, 'cluster_idx'])) as KernelRow[];
  return { ...w, containers: s.map((k) => k.container_id) };
}

for (const lagging of [false, true]) {
  test(`phases to RUNNING${lagging ? ', one sub behind' : ''}: one statement writes what the three wrote`, async (t) => {
    const a = await newSession(`phases-cb-${lagging}`, ['SCHEDULED'], {
      callback_url: 'http://hook.invalid/x',
    });
    const b = await newSession(`phases-one-${lagging}`, ['SCHEDULED']);
    if (lagging)
      for (const m of [a, b])
        await database.db('kernels').where({ id: m.subs[1] }).update({ status: 'PENDING' });
    t.is(await applyPhases(a, steps()), Date.parse('2026-11-29T10:00:00.004Z'));
    t.is(await applyPhases(b, steps()), Date.parse('2026-11-29T10:00:00.004Z'));
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
  const a = await newSession('phases-split', ['SCHEDULED']);
  const b = await newSession('phases-whole', ['SCHEDULED']);
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
