import type { ExecutionContext, TestFn } from 'ava';
import { randomUUID } from 'node:crypto';
import type { SessionStatus } from '../../src/domain/status.js';
import { toJsonColumns } from '../../src/persistence/json-columns.js';
import type { KernelRow, SessionRow } from '../../src/persistence/rows.js';
import type { EventsNotifier } from '../../src/persistence/events-notifier.js';
import { SessionStore } from '../../src/persistence/session-store.js';
import type { Tx } from '../../src/persistence/db.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { fileFixture } from './file-fixture.js';
import { untilWaitingOnLock } from './lock-wait.js';

/**
 * Sessions written straight through the store, and what their rows say, for the tests that
 * compare two writers of the same move on a real PostgreSQL (session-exit, session-phases-at-once,
 * placement-commit, session-batch) or read what one move wrote (session-events).
 */
export interface Made {
  id: string;
  main: string;
  subs: string[];
}

/** A test file's database of its own and a SessionStore over it. */
export interface StoreFixture {
  readonly database: TestDatabase;
  readonly store: SessionStore;
}

/**
 * A StoreFixture for the tests of one file: made before they run, the database dropped after;
 * its store tells `notifier` (by default nobody) what it committed.
 */
export function storeFixture(test: TestFn, notifier?: EventsNotifier): StoreFixture {
  return fileFixture<StoreFixture>(
    test,
    async (into) => {
      into.database = await createTestDatabase();
      into.store = new SessionStore(into.database.db, notifier);
    },
    async (made) => {
      await made.database?.drop();
    },
  );
}

/** A batch session with a main and two subs, placed on `agent-x` and moved to `to`. */
export async function newSession(
  fx: StoreFixture,
  name: string,
  to: SessionStatus[],
  extra: Partial<SessionRow> = {},
): Promise<Made> {
  const { made, session, kernels } = sessionRows(fx, name, extra);
  await fx.store.insert(session, kernels, []);
  for (const status of to) {
    const set = status === 'SCHEDULED' ? { agent_id: 'agent-x' } : {};
    const row = await fx.store.transition(made.id, status, { kernels: true, set });
    if (!row) throw new Error(`the move to ${status} was refused`);
  }
  return made;
}

/** The rows of a new PENDING batch session with a main and two subs (jsonb columns as text), and its Made. */
export function sessionRows(fx: { database: TestDatabase }, name: string, extra: Partial<SessionRow> = {}) {
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
  const session = toJsonColumns({
    id,
    name,
    access_key: fx.database.admin.accessKey,
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
  } as Partial<SessionRow>);
  const made: Made = {
    id,
    main: kernels[1]!.id as string,
    subs: [kernels[2]!.id as string, kernels[0]!.id as string],
  };
  return { made, session, kernels };
}

/**
 * A statement racing a session's lock: `start` is started while a transaction holds the lock
 * (store.lockIn), and once it waits on that lock (its text contains `fragment`), `meanwhile`
 * runs in the holding transaction, which commits. What `start` returned, after that commit.
 * It holds three of the test pool's four connections at once (the transaction, the waiting
 * statement, the poll of pg_stat_activity): its tests are `test.serial`, as two at a time wait
 * on each other's connections until the pool's acquire timeout.
 */
export async function whileSessionLocked<T>(
  fx: StoreFixture,
  id: string,
  fragment: string,
  start: () => Promise<T>,
  meanwhile: (trx: Tx, s: SessionRow) => Promise<unknown>,
): Promise<T> {
  const trx = await fx.database.db.transaction();
  let pending: Promise<T>;
  try {
    const s = (await fx.store.lockIn(trx, id))!;
    pending = start();
    await untilWaitingOnLock(fx.database.db, fragment, 'the statement waiting on the session lock');
    await meanwhile(trx, s);
    await trx.commit();
  } catch (err) {
    await trx.rollback();
    throw err;
  }
  return pending;
}

/** A session's row, its kernels (main first, then subs by index) and its events in order. */
export async function rowsOf(fx: { database: TestDatabase }, id: string) {
  const { database } = fx;
  const s = (await database.db('sessions').where({ id }).first()) as SessionRow;
  const kernels = (await database
    .db('kernels')
    .where({ session_id: id })
    .orderBy([{ column: 'cluster_role' }, 'cluster_idx'])) as KernelRow[];
  const events = (await database.db('session_events').where({ session_id: id }).orderBy('id')) as {
    kernel_id: string | null;
    name: string;
    data: Record<string, unknown>;
  }[];
  return { s, kernels, events };
}

/** What a session's rows say, without its ids, name and times. */
export async function written(fx: { database: TestDatabase }, m: Made) {
  const { s, kernels, events } = await rowsOf(fx, m.id);
  const attempts = (await fx.database.db('session_attempts').where({ session_id: m.id })) as Record<
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

/** written(), and each kernel's container (main first, then subs by index). */
export async function writtenAndContainers(fx: { database: TestDatabase }, m: Made) {
  const w = await written(fx, m);
  const ks = (await fx.database
    .db('kernels')
    .where({ session_id: m.id })
    .orderBy([{ column: 'cluster_role' }, 'cluster_idx'])) as KernelRow[];
  return { ...w, containers: ks.map((k) => k.container_id) };
}

/**
 * A session's callback deliveries in order: each body's fields (in their order) and values,
 * without the session's id, name and the time queued, which are checked here (`own`), and
 * with status_history's statuses only (their times differ between twins).
 */
export async function callbacksOf(fx: { database: TestDatabase }, id: string) {
  const { database } = fx;
  const s = (await database.db('sessions').where({ id }).first()) as SessionRow;
  const rows = (await database.db('webhook_deliveries').where({ session_id: id }).orderBy('id')) as {
    url: string;
    access_key: string;
    body: string;
  }[];
  return rows.map((r) => {
    const body = JSON.parse(r.body) as Record<string, unknown>;
    const { session_id, session_name, when, status_history, ...rest } = body;
    const at = typeof when === 'string' ? new Date(when) : null;
    return {
      url: r.url,
      keys: Object.keys(body),
      own:
        r.access_key === s.access_key &&
        session_id === id &&
        session_name === s.name &&
        at !== null &&
        at.toISOString() === when,
      statuses: Object.keys(status_history as Record<string, string>).sort(),
      event: body.event as string,
      fields: rest,
    };
  });
}

/**
 * Asserts that session `id`'s callback deliveries are those its twin `ref` got (callbacksOf),
 * each its own (ids, name, time queued), for the events `events` in that order.
 */
export async function sameCallbacks(
  t: ExecutionContext,
  fx: { database: TestDatabase },
  id: string,
  ref: string,
  events: readonly string[],
): Promise<void> {
  const callbacks = await callbacksOf(fx, id);
  t.deepEqual(callbacks, await callbacksOf(fx, ref));
  t.deepEqual(
    callbacks.map((c) => c.event),
    events,
  );
  t.true(callbacks.every((c) => c.own));
}
