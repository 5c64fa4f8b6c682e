import test from 'ava';
import { analyze, planScans, rowsCounted } from '../../src/persistence/plan-check.js';
import { GLANCE_SQL } from '../../src/persistence/scheduler-sql.js';
import { glanceUnusual } from '../helpers/statement-reads.js';
import { insertCopies } from '../../src/persistence/session-copies.js';
import { batch, startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * The dispatcher's glance asks whether any PENDING session has a starts_at, a backoff, a start
 * deadline or a dependency. `has_dependencies` makes the last a condition on the row, kept by
 * a trigger on session_dependencies however the rows come (the API, an array's copy, a direct
 * insert), and each kind is asked of an index of those sessions alone. No agent runs
 * anything, so the sessions stay PENDING.
 */
let stack: TestStack;
const UNUSUAL_INDEXES = [
  'sessions_pending_later_idx',
  'sessions_pending_due_later_idx',
  'sessions_pending_retry_later_idx',
  'sessions_start_deadline_idx',
  'sessions_pending_examined_idx',
];
test.before(async () => {
  stack = await startTestStack({ agents: 0 });
});
test.after.always(async () => {
  await stack?.close();
});

const create = (body: Record<string, unknown>) =>
  stack.client.request<{ sessionId: string }>('POST', '/session', body).then((r) => r.sessionId);

const unusual = () => glanceUnusual(stack.database.db);

async function flagOf(id: string): Promise<boolean> {
  const row = (await stack.database.db('sessions').where({ id }).first('has_dependencies')) as {
    has_dependencies: boolean;
  };
  return row.has_dependencies;
}

test.serial('a dependency makes its session unusual, from the API or a direct insert', async (t) => {
  const { db } = stack.database;
  const first = await create(batch('echo first', { name: 'glance-first' }));
  t.false(await flagOf(first));
  t.false(await unusual(), 'plain PENDING sessions: nothing for the survey');
  const second = await create(batch('echo second', { name: 'glance-second', dependencies: [first] }));
  t.true(await flagOf(second), 'the API inserted its dependency: the trigger marked it');
  t.false(await flagOf(first), 'the session depended on is not marked');
  t.true(await unusual());
  await db('sessions').where({ id: second }).update({ status: 'CANCELLED' });
  t.false(await unusual(), 'ended, it is not PENDING any more');

  // A row inserted as a test or an operator's script would, then its dependency by hand.
  const [id] = await insertCopies(db, first, 1, () => ({ name: 'glance-by-hand' }));
  t.false(await flagOf(id!));
  await db('session_dependencies').insert({ session_id: id!, depends_on: first });
  t.true(await flagOf(id!), 'the trigger marked the session of a dependency inserted by hand');
  t.true(await unusual());
  await db('sessions').where({ id: id! }).update({ status: 'CANCELLED' });
});

test.serial('the glance asks the index of unusual sessions, not every PENDING one', async (t) => {
  const { db } = stack.database;
  // Thousands waiting, as a CI burst leaves them: inserted as copies of one the API made.
  const template = await create(batch('true', { name: 'glance-plain' }));
  await insertCopies(db, template, 3000, (_, i) => ({ name: `glance-plain-${i}` }));
  await analyze(db);
  t.false(await unusual());
  for (const generic of [false, true]) {
    const scans = await planScans(db, { sql: GLANCE_SQL, bindings: [] }, { generic });
    const onSessions = scans.filter((s) => s.relation === 'sessions');
    // Each kind of unusual session from an index of those alone (migration 20261202180000);
    // the groups with PENDING sessions, a probe each (any index).
    const unusualReads = onSessions.filter((s) => s.index !== null && UNUSUAL_INDEXES.includes(s.index));
    t.is(
      unusualReads.length,
      UNUSUAL_INDEXES.length,
      `${generic ? 'generic' : 'custom'}: ${JSON.stringify(scans)}`,
    );

    t.false(
      scans.some((s) => s.relation === 'session_dependencies'),
      'session_dependencies is not read by the glance',
    );
  }
  const read = await rowsCounted(db, { sql: GLANCE_SQL, bindings: [] }, ['sessions']);
  t.true(read.sessions! <= 5, `the glance read ${read.sessions} rows of sessions past 3,000 waiting`);
});
