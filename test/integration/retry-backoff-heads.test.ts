import test, { type ExecutionContext } from 'ava';
import { WAIT_REASONS } from '../../src/domain/predicates.js';
import { analyze, type RanQuery } from '../../src/persistence/plan-check.js';
import { scanRunnable } from '../../src/persistence/runnable-scan.js';
import { SchedulerStore } from '../../src/persistence/scheduler-store.js';
import { seedHistory } from '../../src/persistence/history-seed.js';
import { insertCopies } from '../../src/persistence/session-copies.js';
import type { SessionRow } from '../../src/persistence/rows.js';
import { assertReadsFew as readsFew, captured as capturedBy } from '../helpers/statement-reads.js';
import { newSession, storeFixture } from '../helpers/session-rows.js';

/**
 * Retries in their backoff wait out of the queue (migration 20261203120000). A CI fan-out that
 * failed, each session sent back by its retry policy with a backoff of an hour, at a higher
 * priority than the rest of the queue, with statistics taken before it came: the head of the
 * queue gives the session behind it and the survey reads few of them; once the backoff is over
 * the survey puts them back, and they come first again, in the queue's order.
 */
const fx = storeFixture(test);
const HISTORY = 5_000;
const FAN_OUT = 600;
const HEAD = 32;
/** At most this many rows of a table for a statement of a pass. */
const FEW = 5 * HEAD;

let fan: string[] = [];
let plain = '';
const later = new Date(Date.now() + 3_600_000);

const at = () => ({ group: 'default', horizon: new Date(), now: new Date() });
const head = () => scanRunnable(fx.database.db, HEAD, at(), 16, []);
const scheduler = () => new SchedulerStore(fx.database.db, fx.store);
const survey = () => scheduler().survey(new Date(), new Date(), 64);

test.before(async () => {
  const { db } = fx.database;
  await db.raw('ALTER TABLE sessions SET (autovacuum_enabled = false)');
  await seedHistory(db, { sessions: HISTORY, accessKey: 'AKRETRYHEADSHISTORY0', endedDaysAgo: [1, 5] });
  await analyze(db);
  const template = (
    await newSession(fx, 'retry-template', [], { requested_slots: { cpu: 1 }, cluster_size: 1 })
  ).id;
  // The fan-out ran and failed: each is sent back for its second attempt, as the report handler does.
  fan = await insertCopies(db, template, FAN_OUT, (_, i) => ({
    name: `retry-${i}`,
    priority: 100,
    status: 'RUNNING',
    agent_id: 'agent-x',
  }));
  for (const row of (await db('sessions').whereIn('id', fan)) as SessionRow[]) {
    const back = await fx.store.requeueForRetry(row, {
      reason: 'exit code 1',
      exitCode: 1,
      at: later,
      data: {},
    });
    if (!back) throw new Error(`the retry of ${row.id} was refused`);
  }
  // Behind the fan-out in the queue: a session that can run.
  plain = (await insertCopies(db, template, 1, () => ({ name: 'plain' })))[0]!;
  await db('sessions').where({ id: template }).update({ status: 'CANCELLED' });
});

/** What `q` reads of 'sessions': at most FEW rows of each. */
const assertReadsFew = (t: ExecutionContext, what: string, q: RanQuery) =>
  readsFew(t, fx.database.db, what, q, ['sessions'], FEW);
const captured = (name: string, run: () => Promise<unknown>) => capturedBy(fx.database.db, name, run);

test.serial(
  'retries in their backoff wait out of the queue, explained, and cost a pass few reads',
  async (t) => {
    const { db } = fx.database;
    const rows = (await db('sessions')
      .whereIn('id', fan)
      .select('status', 'attempt', 'due_later', db.raw(`status_data -> 'predicates' AS predicates`))) as {
      status: string;
      attempt: number;
      due_later: boolean;
      predicates: { name: string; msg: string }[];
    }[];
    t.is(rows.length, FAN_OUT);
    for (const r of rows) {
      t.is(r.status, 'PENDING');
      t.is(r.attempt, 2);
      t.true(r.due_later, 'out of the queue until its backoff is over');
      t.deepEqual(r.predicates, [
        { name: WAIT_REASONS.retryBackoff.name, msg: `retrying at ${later.toISOString()}` },
      ]);
    }

    const page = await head();
    t.deepEqual(
      page.rows.map((r) => r.id),
      [plain],
      'the session behind the fan-out, none of the retries',
    );
    t.true(page.read < HEAD, `the head was not cut (it read ${page.read})`);
    await assertReadsFew(t, 'the head of the queue', await captured(`bai_runnable_${HEAD}`, head));

    const [group] = await survey();
    t.is(group?.joined, 0, 'none is due');
    t.is(group?.backoffAt?.getTime(), later.getTime(), 'the pass wakes when the backoff is over');
    await assertReadsFew(t, 'the survey', await captured('bai_survey', survey));
    const explained = (await db('sessions')
      .whereIn('id', fan)
      .whereRaw(`status_data -> 'predicates' -> 0 ->> 'name' = ?`, [WAIT_REASONS.retryBackoff.name])
      .count('* as n')) as { n: string }[];
    t.is(Number(explained[0]!.n), FAN_OUT, 'the survey left their predicates as they were');
  },
);

test.serial('once the backoff is over, the survey puts them back, first in the queue again', async (t) => {
  const { db } = fx.database;
  // The hour went by.
  await db('sessions')
    .whereIn('id', fan)
    .update({ retry_after: new Date(Date.now() - 1000) });
  const [group] = await survey();
  t.is(group?.joined, FAN_OUT, 'all of them joined the queue');
  t.is(group?.backoffAt, null, 'no backoff left');
  const flagged = (await db('sessions').whereIn('id', fan).where({ due_later: true }).count('* as n')) as {
    n: string;
  }[];
  t.is(Number(flagged[0]!.n), 0);
  const page = await head();
  const whole = await scanRunnable(db, null, at(), 16, []);
  t.is(page.rows.length, 16);
  t.deepEqual(
    page.rows.map((r) => r.id),
    whole.rows.map((r) => r.id),
    'the page from the head is the page of the whole queue',
  );
  t.true(
    page.rows.every((r) => fan.includes(r.id)),
    'the retries come before the session behind them',
  );
});
