import test from 'ava';
import { AdmissionStore } from '../../src/persistence/admission-store.js';
import { FleetStore } from '../../src/persistence/fleet-store.js';
import { commitPlacement, type RunnableSession } from '../../src/persistence/placement-commit.js';
import {
  analyze,
  functionBody,
  planScans,
  rowsCounted,
  rowsRead,
  type RanQuery,
} from '../../src/persistence/plan-check.js';
import { scanRunnable } from '../../src/persistence/runnable-scan.js';
import { GLANCE_SQL } from '../../src/persistence/scheduler-sql.js';
import { SchedulerStore } from '../../src/persistence/scheduler-store.js';
import { seedHistory } from '../../src/persistence/history-seed.js';
import { insertCopies } from '../../src/persistence/session-copies.js';
import { newSession, storeFixture } from '../helpers/session-rows.js';

/**
 * A backlog must not slow a pass. With thousands of PENDING sessions that the planner's
 * statistics have not seen (taken while none waited, as after a quiet night before a CI
 * fan-out: autoanalyze waits for a tenth of the table to change), the statements a pass runs
 * to dispatch one session — the glance, the page from the head of the queue, the placement,
 * the predicates it writes — and the reconciler's tick read a number of sessions and kernels
 * that does not grow with the backlog. Each is run again under EXPLAIN ANALYZE (rolled back),
 * with the plan for its values and with the generic plan the manager's pools keep, and the
 * rows it read from each table are counted.
 */
const fx = storeFixture(test);
/** Ended sessions in the database when the statistics were taken. */
const HISTORY = 5_000;
const BACKLOG = 2_000;
const HEAD = 32;
const AGENT = 'agent-backlog';
/** At most this many rows of sessions or kernels for a statement that dispatches one session. */
const FEW = 5 * HEAD;

let placement: RanQuery | null = null;
let scan: RanQuery | null = null;
let tick: RanQuery | null = null;
let predicates: RanQuery | null = null;
let heartbeat: RanQuery | null = null;
let admission: RanQuery | null = null;

test.before(async () => {
  const { db } = fx.database;
  // The statistics stay as taken before the backlog, whatever the machine's pace.
  await db.raw('ALTER TABLE sessions SET (autovacuum_enabled = false)');
  await db.raw('ALTER TABLE kernels SET (autovacuum_enabled = false)');
  await db('agents').insert({
    id: AGENT,
    scaling_group: 'default',
    available_slots: JSON.stringify({ cpu: 64, mem: 1 << 30 }),
  });
  await seedHistory(db, { sessions: HISTORY, accessKey: 'AKBACKLOGHISTORY0000', endedDaysAgo: [1, 5] });
  await analyze(db);
  const template = await newSession(fx, 'backlog-template', [], { requested_slots: { cpu: 1, mem: 1024 } });
  await insertCopies(db, template.id, BACKLOG, (_, i) => ({ name: `backlog-${i}` }));

  // The statements as the dispatcher sends them, captured from knex's query event.
  const captured = new Map<string, RanQuery>();
  const capture = (q: { sql?: string; bindings?: unknown[]; options?: { name?: string } }) => {
    const name = q.options?.name;
    if (q.sql && name) captured.set(name, { sql: q.sql, bindings: q.bindings ?? [] });
  };
  db.on('query', capture);
  try {
    const at = { group: 'default', horizon: new Date(), now: new Date() };
    const page = await scanRunnable(db, HEAD, at, 16, []);
    if (page.rows.length === 0) throw new Error('the head of the backlog is not runnable');
    // Placed in a transaction rolled back: the statement is captured with the agent's reading
    // as it stays, so it runs again to the end.
    const first: RunnableSession = page.rows[0]!;
    await db
      .transaction(async (trx) => {
        const placed = await commitPlacement(trx, fx.store, AGENT, [first]);
        if (placed.length !== 1) throw new Error('the head session was not placed');
        throw new RolledBack();
      })
      .catch((err: unknown) => {
        if (!(err instanceof RolledBack)) throw err;
      });
    // The reconciler's tick, and the predicates a pass writes for sessions it could not place.
    await new FleetStore(db).timedOut(new Date(Date.now() - 60_000));
    // An agent's heartbeat, and admission's reads for another keypair's submit.
    await new FleetStore(db).markAlive(
      AGENT,
      { at: new Date(), statusInfo: null, slots: { cpu: 64, mem: 1 << 30 }, scalingGroup: 'default' },
      { info: 'agent-disconnected', key: 'agent_lost' },
    );
    await new AdmissionStore(db).facts(['default'], ['AKBACKLOGHISTORY0000']);
    await new SchedulerStore(db, fx.store).writePredicates([{ id: first.id, predicates: [] }]);
  } finally {
    db.removeListener('query', capture);
  }
  scan = captured.get(`bai_runnable_${HEAD}`) ?? null;
  placement = captured.get('bai_place') ?? null;
  tick = captured.get('bai_timed_out') ?? null;
  predicates = captured.get('bai_write_predicates') ?? null;
  heartbeat = captured.get('bai_mark_alive') ?? null;
  admission = captured.get('bai_admission_facts') ?? null;
});

class RolledBack extends Error {}

/** Rows of sessions and kernels `q` read, with the plan for its values and the generic plan. */
async function bothReads(q: RanQuery): Promise<{ plan: string; read: Record<string, number> }[]> {
  const out = [];
  for (const generic of [false, true]) {
    out.push({
      plan: generic ? 'generic' : 'custom',
      read: await rowsRead(fx.database.db, q, { generic }),
    });
  }
  return out;
}

function assertFew(
  t: import('ava').ExecutionContext,
  reads: { plan: string; read: Record<string, number> }[],
): void {
  for (const { plan, read } of reads) {
    t.log(`${plan} plan: ${JSON.stringify(read)}`);
    for (const table of ['sessions', 'kernels']) {
      t.true((read[table] ?? 0) <= FEW, `${plan} plan read ${read[table]} rows of ${table}`);
    }
  }
}

test.serial('the backlog is there, and unseen by the statistics', async (t) => {
  const { db } = fx.database;
  const counted = (await db('sessions').where({ status: 'PENDING' }).count('* as n')) as { n: string }[];
  t.is(Number(counted[0]?.n), BACKLOG + 1);
  const plan = await explainRows(`SELECT 1 FROM sessions WHERE status = 'PENDING'`);
  t.true(plan < BACKLOG / 10, `the planner expects ${plan} PENDING sessions`);
});

/** The rows the planner expects a query to return. */
async function explainRows(sql: string): Promise<number> {
  const { rows } = (await fx.database.db.raw(`EXPLAIN (FORMAT JSON) ${sql}`)) as {
    rows: { 'QUERY PLAN': { Plan: { 'Plan Rows': number } }[] }[];
  };
  return rows[0]!['QUERY PLAN'][0]!.Plan['Plan Rows'];
}

test.serial('the glance reads no backlog', async (t) => {
  assertFew(t, await bothReads({ sql: GLANCE_SQL, bindings: [] }));
});

test.serial('the page from the head of the queue reads the head only', async (t) => {
  t.truthy(scan, 'the runnable scan was captured');
  assertFew(t, await bothReads(scan!));
});

test.serial('pending_queue_head reads the head only, as the function plans it', async (t) => {
  const fn = await functionBody(fx.database.db, 'pending_queue_head');
  t.deepEqual(fn.settings, ['enable_sort=off']);
  for (const generic of [false, true]) {
    const read = await rowsRead(
      fx.database.db,
      { sql: fn.sql, bindings: ['default', HEAD] },
      { generic, settings: fn.settings },
    );
    t.log(`${generic ? 'generic' : 'custom'} plan: ${JSON.stringify(read)}`);
    t.is(read.sessions, HEAD);
  }
});

test.serial('the placement reads its session and kernels only', async (t) => {
  t.truthy(placement, 'the placement was captured');
  const reads = await bothReads(placement!);
  assertFew(t, reads);
  for (const { plan, read } of reads) t.true((read.sessions ?? 0) >= 1, `${plan} plan read the session`);
});

// Statements that read a few rows by id, agent or keypair: each must read no backlog.
for (const [title, what, statement] of [
  ["the reconciler's tick reads no backlog", 'the tick', () => tick],
  ['the predicates written for a session read that session only', 'the write', () => predicates],
  ["an agent's heartbeat reads its sessions only", 'the heartbeat', () => heartbeat],
  ["admission counts the submitting keypair's PENDING sessions only", "admission's reads", () => admission],
] as const) {
  test.serial(title, async (t) => {
    const q = statement();
    t.truthy(q, `${what} was captured`);
    assertFew(t, await bothReads(q!));
  });
}

test.serial('a backlog whose keypair is at its limit: a page comes from the other keypairs', async (t) => {
  const { db } = fx.database;
  // The backlog's keypair reaches its limit (a policy that allows none), and a session of
  // another keypair waits behind the backlog: the only one that can run.
  const [{ access_key: owner } = { access_key: '' }] = (await db('sessions')
    .where({ status: 'PENDING' })
    .limit(1)
    .select('access_key')) as { access_key: string }[];
  await db('keypair_resource_policies').insert({ name: 'backlog-full', max_concurrent_sessions: 0 });
  await db('keypairs').where({ access_key: owner }).update({ resource_policy: 'backlog-full' });
  const [template] = (await db('sessions').where({ status: 'PENDING' }).limit(1).select('id')) as {
    id: string;
  }[];
  const [other] = await insertCopies(db, template!.id, 1, () => ({
    name: 'backlog-other',
    access_key: 'AKBACKLOGHISTORY0000',
    priority: 0,
  }));
  // A whole read writes the backlog's `keypair_concurrency` predicates and says how many; a read
  // again finds them written. (No manager runs here: nothing else writes them in between.)
  const at = { group: 'default', horizon: new Date(), now: new Date() };
  const written = await scanRunnable(db, null, at, HEAD / 2, []);
  t.true(written.wrote >= BACKLOG, `the first whole read wrote ${written.wrote} predicates`);
  t.is((await scanRunnable(db, null, at, HEAD / 2, [])).wrote, 0);
  const store = new SchedulerStore(db, fx.store);
  const ran: RanQuery[] = [];
  const names: string[] = [];
  const capture = (q: { sql?: string; bindings?: unknown[]; options?: { name?: string } }) => {
    const name = q.options?.name;
    if (!q.sql || !name?.startsWith('bai_runnable')) return;
    names.push(name);
    ran.push({ sql: q.sql, bindings: q.bindings ?? [] });
  };
  const page = () => store.runnable('default', new Date(), new Date(), HEAD / 2, []);
  db.on('query', capture);
  let first, second;
  try {
    first = await page();
    second = await page();
  } finally {
    db.removeListener('query', capture);
  }
  for (const read of [first, second]) {
    t.deepEqual(
      read.rows.map((r) => r.id),
      [other],
    );
    t.false(read.more);
  }
  // The store's first read is of the whole queue. Then the queue's head is all the backlog's,
  // and the open keypairs' head finds the other session.
  t.deepEqual(names, ['bai_runnable_all', `bai_runnable_${HEAD}`, `bai_runnable_open_${HEAD}`]);
  const whole = await rowsCounted(db, ran[0]!, ['sessions']);
  t.true(whole.sessions! > BACKLOG, `the counters see the whole read's ${whole.sessions} rows`);
  const read = await rowsCounted(db, ran[2]!, ['sessions', 'kernels']);
  t.log(`the open head read ${JSON.stringify(read)}`);
  t.true(read.sessions! <= FEW, `the open head read ${read.sessions} rows of sessions`);
  t.true(read.kernels! <= FEW, `the open head read ${read.kernels} rows of kernels`);
});

test.serial("pending_open_heads' reads are of its keypair index, as the function plans them", async (t) => {
  const { db } = fx.database;
  const fn = await functionBody(db, 'pending_open_heads');
  t.deepEqual(fn.settings, ['enable_sort=off']);
  const { rows } = (await db.raw(`SELECT prosrc FROM pg_proc WHERE proname = 'pending_open_heads'`)) as {
    rows: { prosrc: string }[];
  };
  // Its statements with the keypair variable as a parameter: a keypair's head, the first keypair.
  const firstKeypair = /SELECT s\.access_key INTO kp (FROM [\s\S]*?);/.exec(rows[0]!.prosrc)?.[1];
  t.truthy(firstKeypair);
  const statements = [
    { sql: fn.sql.replace(/\bkp\b/g, '$3'), bindings: ['default', HEAD, 'AKBACKLOGHISTORY0000'] },
    { sql: `SELECT s.access_key ${firstKeypair!}`, bindings: ['default'] },
  ];
  for (const q of statements) {
    for (const generic of [false, true]) {
      const scans = await planScans(db, q, { generic, settings: fn.settings });
      const label = `${generic ? 'generic' : 'custom'} plan of ${q.sql.slice(0, 40)}`;
      t.true(
        scans.some((x) => x.index === 'sessions_pending_owner_idx'),
        `${label}: ${JSON.stringify(scans)}`,
      );
      t.false(
        scans.some((x) => x.node === 'Seq Scan' || x.index === 'sessions_pending_queue_idx'),
        `${label}: ${JSON.stringify(scans)}`,
      );
    }
  }
});

test.serial("pendingNeeds: the backlog's distinct requests, from its rows alone", async (t) => {
  const { db } = fx.database;
  const store = new SchedulerStore(db, fx.store);
  const ran: RanQuery[] = [];
  const capture = (q: { sql?: string; bindings?: unknown[]; options?: { name?: string } }) => {
    if (q.sql && q.options?.name === 'bai_pending_needs')
      ran.push({ sql: q.sql, bindings: q.bindings ?? [] });
  };
  db.on('query', capture);
  let needs;
  try {
    needs = await store.pendingNeeds('default', 64);
  } finally {
    db.removeListener('query', capture);
  }
  t.deepEqual(
    needs?.map((n) => n.requested_slots),
    [{ cpu: 1, mem: 1024 }],
  );
  t.is(await store.pendingNeeds('default', 0), null, 'more distinct requests than asked for');
  // The PENDING sessions' index entries and rows: not the ended history beside them.
  const pending = BACKLOG + 3;
  const read = await rowsCounted(db, ran[0]!, ['sessions', 'kernels']);
  t.log(`pendingNeeds read ${JSON.stringify(read)} for ${pending} PENDING sessions`);
  // Through the queue's index or the live sessions' (the statistics make them look alike):
  // an entry and a row a session, and the entries of versions the passes above left; the
  // history would add 5,000 more.
  t.true(read.sessions! <= 3 * pending, `read ${read.sessions} rows of sessions`);
  t.is(read.kernels, 0);
});
