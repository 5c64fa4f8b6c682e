import test, { type ExecutionContext } from 'ava';
import type { Db, Tx } from '../../src/persistence/db.js';
import { analyze, type RanQuery } from '../../src/persistence/plan-check.js';
import { positional } from '../../src/persistence/prepared.js';
import { scanRunnable } from '../../src/persistence/runnable-scan.js';
import { surveySql } from '../../src/persistence/scheduler-sql.js';
import { SchedulerStore } from '../../src/persistence/scheduler-store.js';
import { seedHistory } from '../../src/persistence/history-seed.js';
import { insertCopies } from '../../src/persistence/session-copies.js';
import {
  assertReadsFew as readsFew,
  captured as capturedBy,
  glanceUnusual,
} from '../helpers/statement-reads.js';
import { untilWaitingOnLock } from '../helpers/lock-wait.js';
import { newSession, storeFixture } from '../helpers/session-rows.js';

/**
 * Sessions waiting on a dependency or due later cost no pass anything (migration
 * 20261202180000). A CI fan-out of thousands waits on its build job, at a higher priority than
 * the rest of the queue, with statistics taken before it came: the survey finds each one blocked
 * once; after that no pass reads them (the glance, the survey, the head of the queue, the whole
 * queue), until the build job ends and wakes them. The wake cannot be lost to a race: each race
 * below is played out with one transaction held open while the other waits on its lock. The same
 * for thousands due in an hour: out of the queue until a pass's horizon reaches their time.
 */
const fx = storeFixture(test);
const HISTORY = 5_000;
const FAN_OUT = 2_000;
const HEAD = 32;
/** At most this many rows of a table for a statement of a pass. */
const FEW = 5 * HEAD;

let build = '';
let template = '';
let plain = '';
let scheduler: SchedulerStore;

const at = () => ({ group: 'default', horizon: new Date(), now: new Date() });
const survey = () => scheduler.survey(new Date(), new Date(), 100);

test.before(async () => {
  const { db } = fx.database;
  await db.raw('ALTER TABLE sessions SET (autovacuum_enabled = false)');
  await db.raw('ALTER TABLE session_dependencies SET (autovacuum_enabled = false)');
  scheduler = new SchedulerStore(db, fx.store);
  await seedHistory(db, { sessions: HISTORY, accessKey: 'AKBLOCKEDHISTORY0000', endedDaysAgo: [1, 5] });
  await analyze(db);
  build = await running('build-job');
  template = (await newSession(fx, 'fan-template', [], { requested_slots: { cpu: 1 }, cluster_size: 1 })).id;
  await insertCopies(db, template, FAN_OUT, (_, i) => ({ name: `fan-${i}`, priority: 100 }), [build]);
  // Behind the fan-out in the queue: a session that can run.
  plain = (await insertCopies(db, template, 1, () => ({ name: 'plain' })))[0]!;
  await db('sessions').where({ id: template }).update({ status: 'CANCELLED' });
});

/** A session moved to RUNNING by hand (a dependency that has not ended). */
async function running(name: string): Promise<string> {
  const { id } = await newSession(fx, name, []);
  await fx.database.db('sessions').where({ id }).update({ status: 'RUNNING' });
  return id;
}

/** A PENDING copy of the template depending on `deps`, at priority 100. */
async function dependent(name: string, deps: string[], db = fx.database.db): Promise<string> {
  // The template has been cancelled: its copies are PENDING all the same.
  const [id] = await insertCopies(db, template, 1, () => ({ name, priority: 100, status: 'PENDING' }), deps);
  return id!;
}

async function rowOf(id: string) {
  return (await fx.database
    .db('sessions')
    .where({ id })
    .first('deps_blocked', 'deps_epoch', 'status_data')) as {
    deps_blocked: boolean;
    deps_epoch: number;
    status_data: { predicates?: { name: string }[] };
  };
}

async function blockedCount(): Promise<number> {
  const r = (await fx.database.db('sessions').where({ deps_blocked: true }).count('* as n')) as {
    n: string;
  }[];
  return Number(r[0]!.n);
}

const unusual = () => glanceUnusual(fx.database.db);

/** What `q` reads of 'sessions', 'session_dependencies': at most FEW rows of each. */
const assertReadsFew = (t: ExecutionContext, what: string, q: RanQuery) =>
  readsFew(t, fx.database.db, what, q, ['sessions', 'session_dependencies'], FEW);
const captured = (name: string, run: () => Promise<unknown>) => capturedBy(fx.database.db, name, run);

test.serial('the survey finds the fan-out blocked once; then no pass reads it', async (t) => {
  t.false((await rowOf(plain)).deps_blocked);
  t.true(await unusual(), 'dependents not examined yet: the survey is needed');
  await survey();
  t.is(await blockedCount(), FAN_OUT, 'every dependent found blocked');
  const one = await rowOf((await dependentsOf(build))[0]!);
  t.deepEqual(
    one.status_data.predicates?.map((p) => p.name),
    ['dependencies'],
    'and told what it waits for',
  );
  t.false(await unusual(), 'nothing left for the survey');
  // The survey's write left a dead version of each dependent in the index of unusual sessions,
  // which autovacuum (off here, to keep the statistics as they were) removes. VACUUM does that
  // without taking new statistics.
  await fx.database.db.raw('VACUUM sessions');
  // The head of the queue starts with the session behind the fan-out, and is not cut.
  const head = await scanRunnable(fx.database.db, HEAD, at(), 16, []);
  t.deepEqual(
    head.rows.map((r) => r.id),
    [plain],
  );
  t.true(head.read < HEAD, `the head read ${head.read} sessions`);
  // What a pass sends reads none of the fan-out, with statistics that never saw it.
  // The survey as a pass sends it when the glance asks for it (here it does not).
  const sent = surveySql(new Date(), new Date(), 100);
  await assertReadsFew(t, 'the survey', { sql: positional(sent.sql).text, bindings: sent.bindings });
  const all = () => scanRunnable(fx.database.db, null, at(), 16, []);
  await assertReadsFew(t, 'the whole queue', await captured('bai_runnable_all', all));
  t.is((await scheduler.pendingNeeds('default', 64))?.length, 1, "the plain session's request alone");
});

async function dependentsOf(id: string): Promise<string[]> {
  const rows = (await fx.database
    .db('session_dependencies')
    .where({ depends_on: id })
    .select('session_id')) as {
    session_id: string;
  }[];
  return rows.map((r) => r.session_id);
}

test.serial("the build job's end wakes the fan-out, and the next pass finds it runnable", async (t) => {
  const { db } = fx.database;
  await endOk(build);
  t.is(await blockedCount(), 0, 'every dependent woken');
  t.is((await rowOf((await dependentsOf(build))[0]!)).deps_epoch, 1);
  t.true(await unusual());
  const surveyed = await survey();
  t.is(await blockedCount(), 0, 'their dependency is met: none blocked again');
  t.is(surveyed.find((g) => g.group === 'default')?.joined, FAN_OUT, 'each found met, in the queue again');
  const head = await scanRunnable(db, HEAD, at(), 16, []);
  t.is(head.rows.length, 16, 'a page of them can run');
  t.false(
    head.rows.some((r) => r.id === plain),
    'the fan-out, ahead of the plain session',
  );
  // Out of the way of the races below: the fan-out and the plain session end.
  await db('sessions').where({ status: 'PENDING' }).update({ status: 'CANCELLED' });
});

/** Session `id` ends as an exit writes it: its status, in one UPDATE. */
const endOk = (id: string, db: Db = fx.database.db) =>
  db('sessions').where({ id }).update({ status: 'TERMINATED', result: 'SUCCESS' });

/**
 * A race played out: `hold` runs in a transaction left open, `start` begins, and once it waits
 * on a lock (a statement whose text has `fragment`) the transaction commits. What each returned.
 */
async function raced<H, T>(
  hold: (trx: Tx) => Promise<H>,
  start: () => Promise<T>,
  fragment: string,
  what: string,
): Promise<{ held: H; started: T }> {
  const trx = await fx.database.db.transaction();
  try {
    const held = await hold(trx);
    const started = start();
    started.catch(() => {}); // awaited below; a rejection before then is not unhandled
    await untilWaitingOnLock(fx.database.db, fragment, what);
    await trx.commit();
    return { held, started: await started };
  } finally {
    if (!trx.isCompleted()) await trx.rollback();
  }
}

test.serial(
  'a dependency that ends while a dependent is inserted: the insert waits, and sees it ended',
  async (t) => {
    const { db } = fx.database;
    const dep = await running('race-end-first');
    const { started: child } = await raced(
      (trx) => endOk(dep, trx),
      () => dependent('race-end-first-child', [dep]),
      'session_dependencies',
      'the dependency insert waits on the ending session',
    );
    await survey();
    t.false((await rowOf(child)).deps_blocked, 'not blocked: its dependency had ended');
    t.deepEqual(
      (await scanRunnable(db, HEAD, at(), 16, [])).rows.map((r) => r.id),
      [child],
    );
    await db('sessions').where({ id: child }).update({ status: 'CANCELLED' });
  },
);

test.serial('a dependent inserted while its dependency ends: the end waits, and wakes it', async (t) => {
  const { db } = fx.database;
  const dep = await running('race-insert-first');
  const { held: child } = await raced(
    (trx) => dependent('race-insert-first-child', [dep], trx),
    () => endOk(dep),
    'update "sessions"',
    'the end waits on the dependency being inserted',
  );
  t.is((await rowOf(child)).deps_epoch, 1, "the end's trigger saw the new dependent");
  await db('sessions').where({ id: child }).update({ status: 'CANCELLED' });
});

test.serial('two dependencies that end at once: the dependent is woken by the later', async (t) => {
  const { db } = fx.database;
  const [a, b] = [await running('race-two-a'), await running('race-two-b')];
  const child = await dependent('race-two-child', [a, b]);
  await survey();
  t.true((await rowOf(child)).deps_blocked);
  await raced(
    (trx) => endOk(a, trx),
    () => endOk(b),
    'update "sessions"',
    "the second end waits on the first's lock on the dependent",
  );
  const row = await rowOf(child);
  t.is(row.deps_epoch, 2);
  t.false(row.deps_blocked);
  await survey();
  t.false((await rowOf(child)).deps_blocked, 'both ended: not blocked again');
  t.deepEqual(
    (await scanRunnable(db, HEAD, at(), 16, [])).rows.map((r) => r.id),
    [child],
  );
  await db('sessions').where({ id: child }).update({ status: 'CANCELLED' });
});

test.serial('the survey does not wait on a dependent another transaction holds', async (t) => {
  const { db } = fx.database;
  const dep = await running('held-dep');
  const child = await dependent('held-child', [dep]);
  const trx = await db.transaction();
  try {
    await trx.raw('SELECT 1 FROM sessions WHERE id = ? FOR NO KEY UPDATE', [child]);
    await survey();
    t.false((await rowOf(child)).deps_blocked, 'skipped while held');
  } finally {
    await trx.rollback();
  }
  await survey();
  t.true((await rowOf(child)).deps_blocked, 'blocked by the next pass');
  // Its dependency deleted (not ended): it is woken, and runs, with nothing to wait for.
  await db('sessions').where({ id: dep }).delete();
  t.false((await rowOf(child)).deps_blocked);
  await survey();
  t.deepEqual(
    (await scanRunnable(db, HEAD, at(), 16, [])).rows.map((r) => r.id),
    [child],
  );
});

test.serial('sessions due later are out of the queue until a pass reaches their time', async (t) => {
  const { db } = fx.database;
  await db('sessions').where({ status: 'PENDING' }).update({ status: 'CANCELLED' }); // the races' sessions
  const inAnHour = new Date(Date.now() + 3_600_000);
  const later = await insertCopies(db, template, FAN_OUT, (_, i) => ({
    name: `later-${i}`,
    priority: 100,
    status: 'PENDING',
    starts_at: inAnHour,
  }));
  const now = (await insertCopies(db, template, 1, () => ({ name: 'due-now', status: 'PENDING' })))[0]!;
  const flagged = async () => {
    const r = (await db('sessions').where({ due_later: true }).count('* as n')) as { n: string }[];
    return Number(r[0]!.n);
  };
  await survey();
  t.is(await flagged(), FAN_OUT, 'each found due after the horizon');
  const one = await rowOf(later[0]!);
  t.deepEqual(
    one.status_data.predicates?.map((p) => p.name),
    ['starts_at'],
    'and told when it runs',
  );
  await db.raw('VACUUM sessions');
  const head = await scanRunnable(db, HEAD, at(), 16, []);
  t.deepEqual(
    head.rows.map((r) => r.id),
    [now],
  );
  t.true(head.read < HEAD, `the head read ${head.read} sessions`);
  const sent = surveySql(new Date(), new Date(), 100);
  await assertReadsFew(t, 'the survey', { sql: positional(sent.sql).text, bindings: sent.bindings });
  const all = () => scanRunnable(db, null, at(), 16, []);
  await assertReadsFew(t, 'the whole queue', await captured('bai_runnable_all', all));
  // A pass whose horizon reaches their time (the dispatcher's timer is armed for it).
  const reached = await scheduler.survey(new Date(inAnHour.getTime() + 1), new Date(), 100);
  t.is(reached.find((g) => g.group === 'default')?.joined, FAN_OUT, 'back in the queue');
  t.is(await flagged(), 0);
  const due = { group: 'default', horizon: new Date(inAnHour.getTime() + 1), now: new Date() };
  const page = await scanRunnable(db, HEAD, due, 16, []);
  t.is(page.rows.length, 16);
  t.true(
    page.rows.every((r) => later.includes(r.id)),
    'ahead of the session due now, by priority',
  );
});
