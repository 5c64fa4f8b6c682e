import test from 'ava';
import type { Slots } from '../../src/domain/resources.js';
import {
  commitPlacement,
  commitPlacementStepByStep,
  type Placed,
  type RunnableSession,
} from '../../src/persistence/placement-commit.js';
import { PLACED_SESSION_COLUMNS, type KernelRow, type SessionRow } from '../../src/persistence/rows.js';
import { untilWaitingOnLock } from '../helpers/lock-wait.js';
import { newSession, rowsOf, sameCallbacks, storeFixture, type Made } from '../helpers/session-rows.js';

/**
 * The placement's one statement (placement-commit.ts) against the statements one by one it
 * replaces (the agent locked and its kernels counted, then per session the guarded move with
 * its kernels and its event), on a real PostgreSQL: the same sessions placed, the same rows,
 * the same events in the same order, the same guards; and the guard that keeps two managers
 * from over-committing an agent when the lock was awaited.
 */
const fx = storeFixture(test);

type Commit = typeof commitPlacement;
const CPU1: Slots = { cpu: 1, mem: 1024 };

/** An ALIVE agent of the default group with `cpu` cores (and memory to spare). */
async function newAgent(id: string, cpu: number): Promise<void> {
  await fx.database
    .db('agents')
    .insert({ id, scaling_group: 'default', available_slots: JSON.stringify({ cpu, mem: 1 << 30 }) });
}

/** PENDING sessions of three kernels asking 1 cpu each (3 in all), as the runnable scan reads them. */
async function pending(prefix: string, n: number, extra: Partial<SessionRow> = {}) {
  const made: Made[] = [];
  for (let i = 0; i < n; i++) {
    made.push(await newSession(fx, `${prefix}-${i}`, [], { requested_slots: CPU1, ...extra }));
  }
  return made;
}

async function runnable(m: Made): Promise<RunnableSession> {
  const s = (await fx.database.db('sessions').where({ id: m.id }).first()) as SessionRow;
  return {
    id: s.id,
    requested_slots: s.requested_slots,
    cluster_size: s.cluster_size,
    architecture: s.architecture,
    predicates: (s.status_data as { predicates?: unknown }).predicates,
    domain_name: s.domain_name,
    image: s.image,
  };
}

/** What a placement wrote for a session, without its ids, name and times. */
async function written(m: Made) {
  const { s, kernels, events } = await rowsOf(fx, m.id);
  return {
    session: {
      status: s.status,
      statuses: Object.keys(s.status_history),
      status_info: s.status_info,
      status_data: s.status_data,
      placed: s.agent_id !== null,
    },
    kernels: kernels.map((k) => ({
      position: `${k.cluster_role}${k.cluster_idx}`,
      status: k.status,
      statuses: Object.keys(k.status_history),
      status_info: k.status_info,
      placed: k.agent_id !== null,
      occupied_slots: k.occupied_slots,
    })),
    events: events.map((e) => {
      const { sessionId, sessionName, ...data } = e.data;
      return { name: e.name, kernel: e.kernel_id, data, ids: sessionId === m.id && sessionName === s.name };
    }),
  };
}

/** What the run job is built from, as a placement returned it (ids as positions in `made`). */
function returned(placed: Placed[], made: Made[]) {
  return placed.map(({ session, kernels }) => {
    const i = made.findIndex((m) => m.id === session.id);
    // What the run job is built from (the moves one by one return the whole row).
    const rest = Object.fromEntries(
      PLACED_SESSION_COLUMNS.filter((c) => c !== 'id' && c !== 'name').map((c) => [c, session[c]]),
    );
    return {
      session: i,
      rest,
      kernels: kernels.map((k) => ({
        main: k.id === made[i]!.main,
        sub: made[i]!.subs.indexOf(k.id),
        role: k.cluster_role,
        idx: k.cluster_idx,
        host: k.cluster_hostname,
        slots: k.occupied_slots,
      })),
    };
  });
}

/** Runs the same placement through both paths on twin sessions and agents; returns both sides. */
async function twin(
  name: string,
  cpu: number,
  n: number,
  prepare: (made: Made[], agentId: string) => Promise<void> = async () => {},
  extra: Partial<SessionRow> = {},
) {
  const out = [];
  for (const [path, commit] of [
    ['steps', commitPlacementStepByStep],
    ['one', commitPlacement],
  ] as [string, Commit][]) {
    await newAgent(`${name}-${path}`, cpu);
    const made = await pending(`${name}-${path}`, n, extra);
    const list = await Promise.all(made.map(runnable));
    await prepare(made, `${name}-${path}`);
    const placed = await commit(fx.database.db, fx.store, `${name}-${path}`, list);
    out.push({ made, placed: returned(placed, made), rows: await Promise.all(made.map(written)) });
  }
  return { steps: out[0]!, one: out[1]! };
}

test('room for two of three: the one statement places the same two and writes what the moves one by one wrote', async (t) => {
  const { steps, one } = await twin('fit', 7, 3);
  t.deepEqual(one.rows, steps.rows);
  t.deepEqual(one.placed, steps.placed);
  t.deepEqual(
    one.placed.map((p) => p.session),
    [0, 1],
  );
  t.deepEqual(
    one.rows.map((r) => r.session.status),
    ['SCHEDULED', 'SCHEDULED', 'PENDING'],
  );
  t.deepEqual(
    one.rows[0]!.events.map((e) => e.name),
    ['session_enqueued', 'session_scheduled'],
  );
  t.deepEqual(
    one.placed[0]!.kernels.map((k) => `${k.role}${k.idx}`),
    ['main1', 'sub1', 'sub2'],
  );
  t.deepEqual(one.rows[0]!.kernels[0]!.occupied_slots, CPU1);
  // Events of one commit in the order placed.
  const ids = await Promise.all(
    one.made
      .slice(0, 2)
      .map(
        async (m) =>
          (
            await fx.database
              .db('session_events')
              .where({ session_id: m.id, name: 'session_scheduled' })
              .first('id')
          ).id as number,
      ),
  );
  t.true(ids[0]! < ids[1]!);
});

test('a session cancelled before the commit is skipped and its room goes to the next, in both paths', async (t) => {
  const { steps, one } = await twin('cancelled', 6, 3, async (made) => {
    await fx.database.db('sessions').where({ id: made[0]!.id }).update({ status: 'CANCELLED' });
  });
  t.deepEqual(one.rows, steps.rows);
  t.deepEqual(one.placed, steps.placed);
  t.deepEqual(
    one.placed.map((p) => p.session),
    [1, 2],
  );
});

test("a schedule's session: its event names the schedule and the instant, as the moves one by one wrote", async (t) => {
  const { steps, one } = await twin('schedule', 3, 1, async () => {}, {
    schedule_name: 'nightly',
    scheduled_for: new Date('2026-11-29T10:00:00.123Z'),
    starts_at: new Date('2026-11-29T10:00:05.000Z'),
    environ: { A: '1' },
    mounts: [],
  });
  t.deepEqual(one.rows, steps.rows);
  t.deepEqual(one.placed, steps.placed);
  const data = one.rows[0]!.events[1]!.data;
  t.is(data.scheduleName, 'nightly');
  t.is(data.scheduledFor, '2026-11-29T10:00:00.123Z');
  t.is(data.status, 'SCHEDULED');
});

test('an agent that is not ALIVE takes nothing, in both paths', async (t) => {
  const { steps, one } = await twin('lost', 9, 2, async () => {
    await fx.database.db('agents').whereIn('id', ['lost-steps', 'lost-one']).update({ status: 'LOST' });
  });
  t.deepEqual(one.placed, []);
  t.deepEqual(steps.placed, []);
  t.deepEqual(one.rows, steps.rows);
  t.true(one.rows.every((r) => r.session.status === 'PENDING'));
});

test('kernels already on the agent are counted: only what is left is placed', async (t) => {
  const { steps, one } = await twin('held', 7, 3, async (made, agentId) => {
    // The last one is placed first by itself, as another pass would have.
    t.is(
      (await commitPlacementStepByStep(fx.database.db, fx.store, agentId, [await runnable(made[2]!)])).length,
      1,
    );
  });
  t.deepEqual(one.rows, steps.rows);
  t.deepEqual(
    one.placed.map((p) => p.session),
    [0],
  );
});

test('a session with a callback_url takes the one statement, and SCHEDULED queues no delivery', async (t) => {
  await newAgent('callback', 3);
  const [m] = await pending('callback', 1, { callback_url: 'http://hook.invalid/x' });
  const placed = await commitPlacement(fx.database.db, fx.store, 'callback', [await runnable(m!)]);
  t.is(placed.length, 1);
  t.is((await written(m!)).session.status, 'SCHEDULED');
  const deliveries = await fx.database.db('webhook_deliveries').where({ session_id: m!.id });
  // session_enqueued calls for one; session_scheduled calls for none (callbackEventOf).
  t.is(deliveries.length, 1);
});

test('sessions with a callback_url: the one statement writes what the moves one by one wrote, deliveries too', async (t) => {
  const { steps, one } = await twin('hooked', 9, 2, undefined, { callback_url: 'http://hook.invalid/x' });
  t.deepEqual(one.placed, steps.placed);
  t.deepEqual(one.rows, steps.rows);
  t.is(one.placed.length, 2);
  for (const [i, m] of one.made.entries()) {
    await sameCallbacks(t, fx, m.id, steps.made[i]!.id, ['enqueued']);
  }
});

/**
 * Two managers: one has placed a session that fills the agent, not yet committed (its
 * placement bumped the agent's count of placements, as every placement does); the other read
 * the agent before that commit, decided, and its placement statement waits for the agent row.
 * Once the first commits, the guard sees a count that moved and refuses; the agent is read
 * again, and nothing more is placed.
 */
test.serial(
  'a placement that waited for the lock counts what the other placed meanwhile: no over-commit',
  async (t) => {
    await newAgent('race', 3);
    const [first, second] = await pending('race', 2);
    const list = [await runnable(first!), await runnable(second!)];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const other = fx.database.db.transaction(async (trx) => {
      await trx('agents').where({ id: 'race' }).forUpdate().first();
      await trx('agents').where({ id: 'race' }).increment('placements', 1);
      const moved = await fx.store.moveIn(trx, first!.id, 'SCHEDULED', {
        from: ['PENDING'],
        info: null,
        data: { predicates: [] },
        set: { agent_id: 'race' },
        kernels: true,
        kernelSet: { agent_id: 'race', occupied_slots: CPU1 },
      });
      t.truthy(moved);
      locked();
      await held;
    });
    await isLocked;
    const placing = commitPlacement(fx.database.db, fx.store, 'race', [list[1]!]);
    // Wait until the placement statement waits on the agent row, then commit the other.
    await untilWaitingOnLock(
      fx.database.db,
      'placements = a.placements + 1',
      'the placement waiting for the agent row',
    );
    release();
    await other;
    t.deepEqual(await placing, []);
    t.is((await written(second!)).session.status, 'PENDING');
    const onAgent = (await fx.database
      .db('kernels')
      .where({ agent_id: 'race' })
      .whereIn('status', ['SCHEDULED'])) as KernelRow[];
    t.is(onAgent.length, 3, 'only the first session’s three kernels hold the agent');
  },
);

/**
 * A placement decided on a reading that another placement has made stale (the pass's survey,
 * read before a commit on the agent): the guard refuses, the agent is read again, and what it
 * now holds is counted. Given a reading that is still true, the same call places at once.
 */
test('a placement decided on a stale reading of the agent reads it again: no over-commit', async (t) => {
  await newAgent('stale', 3);
  const [first, second, third] = await pending('stale', 3);
  const before = { id: 'stale', total: { cpu: 3, mem: 1 << 30 }, occupied: {}, placements: 0 };
  const placed = await commitPlacement(fx.database.db, fx.store, 'stale', [await runnable(first!)], before);
  t.deepEqual(
    placed.map((p) => p.session.id),
    [first!.id],
  );
  // The same reading, now stale: it says the agent is empty.
  t.deepEqual(
    await commitPlacement(fx.database.db, fx.store, 'stale', [await runnable(second!)], before),
    [],
  );
  t.is((await written(second!)).session.status, 'PENDING');
  const agent = (await fx.database.db('agents').where({ id: 'stale' }).first()) as { placements: string };
  t.is(Number(agent.placements), 1, 'only the placement that committed counted');
  // Room again (the first's kernels ended): a true reading places at once.
  await fx.database.db('kernels').where({ session_id: first!.id }).update({ status: 'TERMINATED' });
  const now = { id: 'stale', total: { cpu: 3, mem: 1 << 30 }, occupied: {}, placements: 1 };
  const again = await commitPlacement(fx.database.db, fx.store, 'stale', [await runnable(third!)], now);
  t.deepEqual(
    again.map((p) => p.session.id),
    [third!.id],
  );
  const onAgent = (await fx.database
    .db('kernels')
    .where({ agent_id: 'stale' })
    .whereIn('status', ['SCHEDULED'])) as KernelRow[];
  t.is(onAgent.length, 3, 'only the third session’s three kernels hold the agent');
});
