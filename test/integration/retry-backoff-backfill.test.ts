import test from 'ava';
import { predicate } from '../../src/domain/predicates.js';
import { scanRunnable } from '../../src/persistence/runnable-scan.js';
import { SchedulerStore } from '../../src/persistence/scheduler-store.js';
import { newSession, storeFixture } from '../helpers/session-rows.js';
import { glanceUnusual } from '../helpers/statement-reads.js';

/**
 * Migration 20261203140000 flags the retries that the code before migration 20261203120000 sent
 * back to PENDING and that are still in their backoff, with the predicate their move writes
 * today, so that no retry in its backoff is left in the queue: the survey's `backoff` explainer
 * and the index it read went. The rows are written as that code left them; the migration is
 * undone and run again on a real PostgreSQL.
 */
const fx = storeFixture(test);
const MIGRATION = '20261203140000_retry_backoff_backfilled';
const BACKOFF_IDX = 'sessions_pending_backoff_idx';

interface State {
  status: string;
  due_later: boolean;
  status_data: Record<string, unknown>;
}

/** A session's status_data saying it waits out its backoff until `at`, with `rest` beside it. */
const waitingUntil = (at: Date, rest: Record<string, unknown> = {}) => ({
  predicates: [predicate('retryBackoff', { retryAfter: at })],
  ...rest,
});

const unusual = () => glanceUnusual(fx.database.db);

async function stateOf(id: string): Promise<State> {
  return (await fx.database
    .db('sessions')
    .where({ id })
    .first('status', 'due_later', 'status_data')) as State;
}

async function hasIndex(name: string): Promise<boolean> {
  const { rows } = (await fx.database.db.raw(`SELECT 1 FROM pg_indexes WHERE indexname = ?`, [name])) as {
    rows: unknown[];
  };
  return rows.length > 0;
}

/** The migration as knex recorded it (its file's name, with the extension it was loaded with). */
async function recorded(): Promise<string> {
  const row = (await fx.database
    .db('knex_migrations')
    .where('name', 'like', `${MIGRATION}.%`)
    .first('name')) as { name: string } | undefined;
  if (!row) throw new Error(`${MIGRATION} did not run`);
  return row.name;
}

test.serial('the retries left in the queue in their backoff are flagged, with their predicate', async (t) => {
  const { db } = fx.database;
  const name = await recorded();
  await db.migrate.down({ name });
  t.true(await hasIndex(BACKOFF_IDX), 'undone: the index of retries in the queue is back');

  const hour = new Date(Math.floor(Date.now() / 1000) * 1000 + 3_600_000 + 123);
  const soon = new Date(hour.getTime() - 1_800_000);
  const over = new Date(Date.now() - 60_000);
  // As the code before 20261203120000 left them: sent back, in the queue (not flagged), one
  // explained by a survey already, one not yet; one whose backoff is over, waiting for capacity.
  const explained = (await newSession(fx, 'explained', [])).id;
  const unexplained = (await newSession(fx, 'unexplained', [])).id;
  const due = (await newSession(fx, 'due', [])).id;
  const placed = (await newSession(fx, 'placed', ['SCHEDULED'])).id;
  const startsLater = (await newSession(fx, 'starts-later', [])).id;
  await db('sessions')
    .where({ id: explained })
    .update({
      retry_after: hour,
      attempt: 2,
      status_data: waitingUntil(hour, { exitCode: 1 }),
    });
  await db('sessions')
    .where({ id: unexplained })
    .update({ retry_after: soon, attempt: 2, status_data: { exitCode: 1 } });
  await db('sessions')
    .where({ id: due })
    .update({ retry_after: over, attempt: 2, status_data: { exitCode: 1 } });
  // Not PENDING (placed again while its retry_after was ahead, as an operator could), and a
  // session flagged for its starts_at: neither is the migration's.
  await db('sessions').where({ id: placed }).update({ retry_after: hour });
  const tomorrow = new Date(Date.now() + 86_400_000);
  await db('sessions')
    .where({ id: startsLater })
    .update({
      starts_at: tomorrow,
      due_later: true,
      status_data: { predicates: [predicate('startsAt', { startsAt: tomorrow })] },
    });
  const untouched = [due, placed, startsLater];
  const before = await Promise.all(untouched.map(stateOf));

  await db.migrate.up({ name });
  t.false(await hasIndex(BACKOFF_IDX), 'the index of retries in the queue is gone');
  t.deepEqual(await stateOf(explained), {
    status: 'PENDING',
    due_later: true,
    status_data: waitingUntil(hour, { exitCode: 1 }),
  });
  t.deepEqual(
    await stateOf(unexplained),
    {
      status: 'PENDING',
      due_later: true,
      status_data: waitingUntil(soon, { exitCode: 1 }),
    },
    'its predicate as the domain writes it, the rest of its data kept',
  );
  t.deepEqual(await Promise.all(untouched.map(stateOf)), before, 'the others are as they were');

  // Out of the queue: the head gives the one whose backoff is over; the pass wakes for the first.
  const at = { group: 'default', horizon: new Date(), now: new Date() };
  const page = await scanRunnable(db, 32, at, 16, []);
  t.deepEqual(
    page.rows.map((r) => r.id),
    [due],
  );
  const scheduler = new SchedulerStore(db, fx.store);
  const [group] = await scheduler.survey(new Date(), new Date(), 64);
  t.is(group?.backoffAt?.getTime(), soon.getTime(), 'the pass wakes when the first backoff is over');
  t.is(group?.joined, 0);

  // Their backoff over, the survey puts them back.
  await db('sessions')
    .whereIn('id', [explained, unexplained])
    .update({ retry_after: new Date(Date.now() - 1000) });
  const [after] = await scheduler.survey(new Date(), new Date(), 64);
  t.is(after?.joined, 2);
  t.is(after?.backoffAt, null);
  const again = await scanRunnable(db, 32, at, 16, []);
  t.deepEqual(new Set(again.rows.map((r) => r.id)), new Set([explained, unexplained, due]));
});

test.serial('undone, the index comes back and flagged retries stay flagged; redone, it goes', async (t) => {
  const { db } = fx.database;
  const name = await recorded();
  // The first test's sessions go: what the glance says below is about this one alone.
  await db('sessions').where({ status: 'PENDING' }).update({ status: 'CANCELLED' });
  const waiting = (await newSession(fx, 'waiting', [])).id;
  const later = new Date(Date.now() + 3_600_000);
  await db('sessions')
    .where({ id: waiting })
    .update({
      retry_after: later,
      due_later: true,
      status_data: waitingUntil(later),
    });
  const flagged = await stateOf(waiting);
  await db.migrate.down({ name });
  t.true(await hasIndex(BACKOFF_IDX));
  t.deepEqual(await stateOf(waiting), flagged, 'the code before the migration puts it back itself');
  await db.migrate.up({ name });
  t.false(await hasIndex(BACKOFF_IDX));
  t.deepEqual(await stateOf(waiting), flagged);
  t.true(await unusual(), 'a retry in its backoff is the survey’s to put back');
  await db('sessions')
    .where({ id: waiting })
    .update({ retry_after: new Date(Date.now() - 1000) });
  const [group] = await new SchedulerStore(db, fx.store).survey(new Date(), new Date(), 64);
  t.is(group?.joined, 1);
  t.false(
    await unusual(),
    'back in the queue, waiting for capacity: nothing for the survey, which the passes no longer run',
  );
});
