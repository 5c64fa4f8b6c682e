import test from 'ava';
import { seedHistory } from '../../src/persistence/history-seed.js';
import { call } from '../helpers/api.js';
import { eventually } from '../helpers/eventually.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * History retention on real PostgreSQL: sessions that ended longer ago than
 * BAI_HISTORY_RETENTION_DAYS are deleted with their kernels, stored logs and events, a bounded
 * batch per transaction; sessions that ended within the retention, and live ones, are kept
 * whole; the API answers 404 for a pruned session; the scrape's counts follow.
 */

const OLD_KEY = 'AKHISTORYOLD00000001';
const RECENT_KEY = 'AKHISTORYRECENT00001';
const OLD = 25;
const RECENT = 7;
const BATCH = 4;
let stack: TestStack;

async function countOf(table: string, accessKey: string): Promise<number> {
  const db = stack.database.db;
  const q =
    table === 'kernels'
      ? db('kernels')
          .join('sessions', 'sessions.id', 'kernels.session_id')
          .where('sessions.access_key', accessKey)
      : db(table).where('access_key', accessKey);
  const row = (await q.count('* as n').first()) as { n: string } | undefined;
  return Number(row?.n ?? 0);
}

test.before(async () => {
  stack = await startTestStack({
    agents: 1,
    // The loop starts after the seed below: a short interval, a batch smaller than the backlog.
    manager: { historyRetentionDays: 30, historyPruneBatch: BATCH, historyPruneIntervalMs: 300 },
  });
});
test.after.always(async () => {
  await stack?.close();
});

test.serial(
  'sessions ended before the retention are pruned in batches; recent and live ones stay',
  async (t) => {
    // A live session, waiting: long-running, so it is RUNNING (or on its way) while the pruner works.
    const { sessionId: live } = await stack.client.request<{ sessionId: string }>(
      'POST',
      '/session',
      batch('sleep 600', { name: 'history-live' }),
    );
    const { sessionId: ended } = await stack.client.request<{ sessionId: string }>(
      'POST',
      '/session',
      batch('echo kept', { name: 'history-ended-now' }),
    );
    await waitForStatus(stack.client, ended);
    const batchesBefore = stack.manager.history.batches;
    const prunedBefore = stack.manager.history.pruned;
    await seedHistory(stack.database.db, { sessions: OLD, accessKey: OLD_KEY, endedDaysAgo: [31, 60] });
    await seedHistory(stack.database.db, { sessions: RECENT, accessKey: RECENT_KEY, endedDaysAgo: [1, 29] });

    await eventually(async () => (await countOf('sessions', OLD_KEY)) === 0, {
      timeoutMs: 60_000,
      intervalMs: 100,
      message: () => 'the expired sessions to be pruned',
    });
    t.true(stack.manager.history.pruned - prunedBefore >= OLD, 'the pruner deleted them');
    t.is(await countOf('session_events', OLD_KEY), 0, 'their events went with them');
    t.is(await countOf('kernels', OLD_KEY), 0, 'their kernels and stored logs went with them');
    // 25 sessions at 4 a transaction: at least 7 batches.
    t.true(
      stack.manager.history.batches - batchesBefore >= Math.ceil(OLD / BATCH),
      `${stack.manager.history.batches - batchesBefore} batches`,
    );

    t.is(await countOf('sessions', RECENT_KEY), RECENT, 'ended within the retention: kept');
    t.is(await countOf('session_events', RECENT_KEY), RECENT * 4);
    t.is(await countOf('kernels', RECENT_KEY), RECENT);
    const info = await call<{ status: string }>(stack.client, 'GET', `/session/${ended}`);
    t.is(info.status, 200, 'a session that ended just now is kept');
    const logs = await call(stack.client, 'GET', `/session/${ended}/logs`);
    t.is(logs.status, 200);
    const liveInfo = await call<{ status: string }>(stack.client, 'GET', `/session/${live}`);
    t.is(liveInfo.status, 200);
    t.not(liveInfo.body.status, 'TERMINATED', 'the live session is untouched');

    // A pruned session is unknown to the API, like one that never existed.
    const pruned = await stack.database.db.raw(`SELECT md5('s' || ? || 1)::uuid AS id`, [OLD_KEY]);
    const prunedId = (pruned as { rows: { id: string }[] }).rows[0]!.id;
    t.is((await call(stack.client, 'GET', `/session/${prunedId}`)).status, 404);

    // The scrape's ended counts follow the deletes (the seeded ones are all TERMINATED SUCCESS).
    const counts = (await stack.database
      .db('session_end_counts')
      .where({ status: 'TERMINATED', result: 'SUCCESS' })
      .sum('n as n')
      .first()) as { n: string };
    const actual = (await stack.database
      .db('sessions')
      .where({ status: 'TERMINATED', result: 'SUCCESS' })
      .count('* as n')
      .first()) as { n: string };
    t.is(Number(counts.n), Number(actual.n), 'session_end_counts matches the table');

    await call(stack.client, 'DELETE', `/session/${live}`);
  },
);
