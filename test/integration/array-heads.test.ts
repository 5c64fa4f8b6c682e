import test, { type ExecutionContext } from 'ava';
import { parentMove } from '../../src/domain/array-spec.js';
import { ArrayStore } from '../../src/persistence/array-store.js';
import { analyze, type RanQuery } from '../../src/persistence/plan-check.js';
import { scanRunnable } from '../../src/persistence/runnable-scan.js';
import { seedHistory } from '../../src/persistence/history-seed.js';
import { insertCopies } from '../../src/persistence/session-copies.js';
import { assertReadsFew as readsFew, captured as capturedBy } from '../helpers/statement-reads.js';
import { newSession, storeFixture } from '../helpers/session-rows.js';

/**
 * An array at its parallelism costs a pass its room, not its children (migration
 * 20261203080000). A CI fan-out of thousands (`0-1999%4`), at a higher priority than the rest
 * of the queue, with statistics taken before it came: four children run, the others wait for
 * one of theirs to end. The head of the queue gives the session behind the fan-out, reading none
 * of the waiting children, and the settle step reads the array's few placed children; when a
 * child ends, the next child in the array's order comes first. The history holds arrays that
 * ended (ENDED_ARRAYS of them, two children each): the settle step reads none of them
 * (migration 20261203160000), but for the one with a child left PENDING (a stray).
 */
const fx = storeFixture(test);
const HISTORY = 5_000;
const FAN_OUT = 2_000;
/** Arrays of the history, ended with their children: more than the settle step may read. */
const ENDED_ARRAYS = 400;
const PARALLELISM = 4;
const HEAD = 32;
/** At most this many rows of a table for a statement of a pass. */
const FEW = 5 * HEAD;

let parent = '';
let children: string[] = [];
let plain = '';
/** An array cancelled with a child left PENDING (sent back for a retry as it was cancelled). */
let strayParent = '';

const at = () => ({ group: 'default', horizon: new Date(), now: new Date() });

test.before(async () => {
  const { db } = fx.database;
  await db.raw('ALTER TABLE sessions SET (autovacuum_enabled = false)');
  await seedHistory(db, { sessions: HISTORY, accessKey: 'AKARRAYHEADSHISTORY0', endedDaysAgo: [1, 5] });
  const template = (
    await newSession(fx, 'array-template', [], { requested_slots: { cpu: 1 }, cluster_size: 1 })
  ).id;
  const ended = await insertCopies(db, template, ENDED_ARRAYS, (_, i) => ({
    name: `ended-${i}`,
    array_size: 2,
    status: i === 0 ? 'CANCELLED' : 'TERMINATED',
    result: i === 0 ? 'UNDEFINED' : 'SUCCESS',
  }));
  strayParent = ended[0]!;
  await insertCopies(db, template, 2 * ENDED_ARRAYS, (_, i) => ({
    name: `ended-${i >> 1}-${i & 1}`,
    array_parent_id: ended[i >> 1],
    array_index: i & 1,
    ...(i === 1 ? {} : { status: 'TERMINATED' as const, result: 'SUCCESS' as const }),
  }));
  await analyze(db);
  parent = (
    await insertCopies(db, template, 1, () => ({
      name: 'fan',
      priority: 100,
      array_size: FAN_OUT,
      array_parallelism: PARALLELISM,
      status: 'RUNNING',
    }))
  )[0]!;
  children = await insertCopies(db, template, FAN_OUT, (_, i) => ({
    name: `fan-${i}`,
    priority: 100,
    array_parent_id: parent,
    array_index: i,
  }));
  // The first ones run: the array is at its parallelism.
  await db('sessions')
    .whereIn('id', children.slice(0, PARALLELISM))
    .update({
      status: 'RUNNING',
      agent_id: 'agent-x',
      status_history: db.raw(`status_history || '{"RUNNING": "now"}'`),
    });
  // Behind the fan-out in the queue: a session that can run.
  plain = (await insertCopies(db, template, 1, () => ({ name: 'plain' })))[0]!;
  await db('sessions').where({ id: template }).update({ status: 'CANCELLED' });
});

/** What `q` reads of 'sessions': at most FEW rows of each. */
const assertReadsFew = (t: ExecutionContext, what: string, q: RanQuery) =>
  readsFew(t, fx.database.db, what, q, ['sessions'], FEW);
const captured = (name: string, run: () => Promise<unknown>) => capturedBy(fx.database.db, name, run);

const head = () => scanRunnable(fx.database.db, HEAD, at(), 16, []);

test.serial(
  'at its parallelism, the array costs the head of the queue and the settle step nothing',
  async (t) => {
    const page = await head();
    t.deepEqual(
      page.rows.map((r) => r.id),
      [plain],
      'the session behind the fan-out, none of its children',
    );
    t.true(page.read < HEAD, `the head was not cut (it read ${page.read})`);
    await assertReadsFew(t, 'the head of the queue', await captured(`bai_runnable_${HEAD}`, head));
    const arrays = new ArrayStore(fx.database.db);
    const read = await arrays.openParents();
    const fan = read.open.find((p) => p.id === parent);
    t.truthy(fan, 'the array is open');
    t.deepEqual(read.stray, [strayParent], 'of the ended arrays, the one with a PENDING child');
    t.deepEqual(
      read.open.map((p) => p.id),
      [parent],
      'the arrays of the history are not open',
    );
    t.is(parentMove(fan!.status, fan!), null, 'it stays RUNNING');
    await assertReadsFew(
      t,
      'the settle step',
      await captured('bai_open_parents', () => arrays.openParents()),
    );
  },
);

test.serial("a child's end makes room for the next child in the array's order, and one only", async (t) => {
  const { db } = fx.database;
  await db('sessions').where({ id: children[1] }).update({ status: 'TERMINATED', result: 'SUCCESS' });
  const page = await head();
  t.deepEqual(
    page.rows.map((r) => r.id),
    [children[PARALLELISM], plain],
  );
  // Two more ends: two children, in order.
  await db('sessions')
    .whereIn('id', [children[0]!, children[2]!])
    .update({ status: 'TERMINATED', result: 'SUCCESS' });
  t.deepEqual(
    (await head()).rows.map((r) => r.id),
    [children[PARALLELISM], children[PARALLELISM + 1], children[PARALLELISM + 2], plain],
  );
  // A whole read agrees, and says why the others wait.
  const whole = await scanRunnable(db, null, at(), 16, []);
  t.deepEqual(
    whole.rows.map((r) => r.id),
    [children[PARALLELISM], children[PARALLELISM + 1], children[PARALLELISM + 2], plain],
  );
  const waiting = (await db('sessions')
    .where({ id: children[PARALLELISM + 3] })
    .first(db.raw(`status_data -> 'predicates' -> 0 ->> 'name' AS name`))) as { name: string };
  t.is(waiting.name, 'array_parallelism');
});

test.serial(
  'once every child ended, the settle step finds the array over, its first failure named',
  async (t) => {
    const { db } = fx.database;
    await db('sessions')
      .where({ array_parent_id: parent })
      .whereNot({ id: children[7] })
      .update({ status: 'TERMINATED', result: 'SUCCESS' });
    await db('sessions')
      .where({ id: children[7] })
      .update({ status: 'TERMINATED', result: 'FAILURE', exit_code: 3 });
    const fan = (await new ArrayStore(db).openParents()).open.find((p) => p.id === parent)!;
    t.deepEqual(parentMove(fan.status, fan), { to: 'TERMINATED', result: 'FAILURE', exitCode: 3 });
  },
);
