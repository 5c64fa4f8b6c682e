import test from 'ava';
import { EventStore } from '../../src/persistence/event-store.js';
import { FleetStore } from '../../src/persistence/fleet-store.js';
import { seedHistory } from '../../src/persistence/history-seed.js';
import { scanRunnable } from '../../src/persistence/runnable-scan.js';
import {
  analyze,
  planScans,
  rowsRead,
  seqScannedTables,
  type PlanScan,
  type RanQuery,
} from '../../src/persistence/plan-check.js';
import { call } from '../helpers/api.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * History must not slow the present: with 100,000 ended sessions of another keypair (a kernel,
 * a stored log and four events each) in the database and its statistics fresh, every query the
 * manager runs on the hot path — submit, dispatch, report handling, the event tail and a
 * stream's replay, session info and logs, `GET /sessions` with filters and paging, the metrics
 * scrape, the history pruner — is captured as knex sends it, and PostgreSQL's plan for it
 * (EXPLAIN, not run) reads sessions, kernels and session_events through indexes only.
 */

const HOT_TABLES = ['sessions', 'kernels', 'session_events'] as const;
const HISTORY_KEY = 'AKHISTORYPLANTEST000';
/** The agent every seeded session ran on (history-seed.ts). */
const HISTORY_AGENT = 'history-agent';
let stack: TestStack;
/**
 * The report statements run on their own (exitAlone, movePhasesAlone, runAndExitAlone), as the
 * first test ran them.
 */
const reportStatements: (RanQuery & { prefix: string })[] = [];
/** The dispatcher's statements, run on generic-plan connections, as the first test ran them. */
const DISPATCH_STATEMENTS = ['bai_glance', 'bai_runnable', 'bai_place'];
/** A statement's family: the runnable scan is named after its head (`bai_runnable_all`, `bai_runnable_128`). */
const family = (name: string) => (name.startsWith('bai_runnable_') ? 'bai_runnable' : name);
const dispatchStatements: (RanQuery & { name: string })[] = [];

test.before(async () => {
  // A hold longer than any probe's run: a main started now is always reported by its exit, with
  // its RUNNING (runAndExitAlone); the probe released from a start barrier reports RUNNING alone.
  stack = await startTestStack({ agents: 1, agent: { runningHoldMs: 120_000 } });
  await seedHistory(stack.database.db, {
    sessions: 100_000,
    accessKey: HISTORY_KEY,
    endedDaysAgo: [1, 20],
  });
  await analyze(stack.database.db);
});
test.after.always(async () => {
  await stack?.close();
});

/** Whether a statement is one a plan can be asked for (not BEGIN, COMMIT, SAVEPOINT, SET…). */
function explainable(sql: string): boolean {
  return /^\s*(select|insert|update|delete|with)\b/i.test(sql);
}

/** Both plans of `q` (the one for its values, the generic one), each with its label for messages. */
async function bothPlans(q: RanQuery, name: string): Promise<{ scans: PlanScan[]; label: string }[]> {
  const out: { scans: PlanScan[]; label: string }[] = [];
  for (const generic of [false, true]) {
    const scans = await planScans(stack.database.db, q, { generic });
    out.push({ scans, label: `${name} (${generic ? 'generic' : 'custom'} plan): ${JSON.stringify(scans)}` });
  }
  return out;
}

/** The scans of hot tables read in full. */
const hotSeqScans = (scans: PlanScan[]) =>
  scans.filter((s) => s.node === 'Seq Scan' && HOT_TABLES.some((h) => h === s.relation));

test.serial('every hot-path query reads sessions, kernels and session_events by index', async (t) => {
  const seen = new Map<string, RanQuery>();
  const capture = (q: { sql?: string; bindings?: unknown[]; options?: { name?: string } }) => {
    if (q.sql && explainable(q.sql) && !seen.has(q.sql)) {
      seen.set(q.sql, { sql: q.sql, bindings: q.bindings ?? [] });
      const prefix = /^(exit1|phases1|runexit1)-/.exec(q.options?.name ?? '')?.[1];
      if (prefix) reportStatements.push({ prefix, sql: q.sql, bindings: q.bindings ?? [] });
      const name = q.options?.name ?? '';
      if (DISPATCH_STATEMENTS.includes(family(name)))
        dispatchStatements.push({ name, sql: q.sql, bindings: q.bindings ?? [] });
    }
  };
  const db = stack.manager.db;
  db.on('query', capture);
  try {
    // A session's whole life: submit, dispatch, reports, events, the tail that wakes its waiters.
    const { sessionId } = await stack.client.request<{ sessionId: string }>(
      'POST',
      '/session',
      batch('echo hi', { name: 'plan-probe', tag: 'probe' }),
    );
    const s = await waitForStatus(stack.client, sessionId);
    t.is(`${s.status} ${s.result}`, 'TERMINATED SUCCESS');
    // One more, started at its time from behind a start barrier: its phases and its RUNNING are
    // reported on their own (movePhasesAlone), then its exit (exitAlone).
    const later = await stack.client.request<{ sessionId: string }>(
      'POST',
      '/session',
      batch('echo later', { name: 'plan-probe-later', starts_at: '4s' }),
    );
    const l = await waitForStatus(stack.client, later.sessionId);
    t.is(`${l.status} ${l.result}`, 'TERMINATED SUCCESS');
    // The API's reads of it, and listings with each filter and a page further in.
    for (const path of [`/session/${sessionId}`, `/session/plan-probe`, `/session/${sessionId}/logs`]) {
      t.is((await call(stack.client, 'GET', path)).status, 200, path);
    }
    const listings: Record<string, string>[] = [
      {},
      { status: 'TERMINATED' },
      { status: 'PENDING,RUNNING' },
      { name: 'plan-probe' },
      { tag: 'probe' },
      { type: 'batch', scaling_group: 'default' },
      { created_after: new Date(Date.now() - 3_600_000).toISOString() },
      { limit: '10', offset: '20' },
      { order: '-terminated_at' },
    ];
    for (const q of listings) {
      const r = await call<{ items: unknown[] }>(stack.client, 'GET', '/sessions', undefined, q);
      t.is(r.status, 200, JSON.stringify(q));
    }
    // The metrics scrape, and a stream's replay after a Last-Event-ID.
    t.is((await fetch(`${stack.manager.url}/metrics`)).status, 200);
    const events = new EventStore(db);
    const replay = await events.backlog({
      accessKey: stack.database.admin.accessKey,
      upTo: await events.maxId(),
      afterId: 0,
      sessionId: null,
      limit: 500,
    });
    t.true(replay.length > 0, 'the replay found the probe session’s events');
  } finally {
    db.removeListener('query', capture);
  }

  t.true(seen.size >= 10, `${seen.size} distinct queries captured`);
  const offenders: string[] = [];
  for (const q of seen.values()) {
    const scanned = await seqScannedTables(stack.database.db, q, HOT_TABLES);
    if (scanned.length > 0)
      offenders.push(`${scanned.join(',')}: ${q.sql.replace(/\s+/g, ' ').slice(0, 300)}`);
  }
  t.deepEqual(offenders, [], `sequential scans on the hot path:\n${offenders.join('\n')}`);
});

/**
 * The report statements that move a session on their own carry the agent and attempt as a
 * guard: the row must be found by its id (sessions_pkey), never through sessions_agent_idx,
 * whose generic plan filtered every session the agent ever ran — in the plan for the values
 * and in the generic plan the manager's report pool keeps (force_generic_plan).
 */
test.serial('the report statements find the session by its primary key, generic plan or not', async (t) => {
  t.deepEqual(
    [...new Set(reportStatements.map((q) => q.prefix))].sort(),
    ['exit1', 'phases1', 'runexit1'],
    'the probe sessions were moved by every report statement on its own',
  );
  for (const q of reportStatements) {
    for (const { scans, label } of await bothPlans(q, q.prefix)) {
      t.log(label);
      t.true(
        scans.some((s) => s.index === 'sessions_pkey'),
        label,
      );
      t.false(
        scans.some((s) => s.index === 'sessions_agent_idx'),
        label,
      );
      t.deepEqual(hotSeqScans(scans), [], label);
    }
  }
});

/**
 * The dispatcher's glance, runnable scan and placement run on connections that keep their
 * generic plans (force_generic_plan): with the history, neither plan of any reads a hot table
 * in full.
 */
test.serial('the dispatcher statements read by index, generic plan or not', async (t) => {
  t.deepEqual(
    [...new Set(dispatchStatements.map((q) => family(q.name)))].sort(),
    [...DISPATCH_STATEMENTS].sort(),
    'the probe session was dispatched by these statements',
  );
  // Both runnable scans, whichever the probes' passes ran: the whole queue's and a head's.
  const scans: (RanQuery & { name: string })[] = [];
  const capture = (q: { sql?: string; bindings?: unknown[]; options?: { name?: string } }) => {
    const name = q.options?.name ?? '';
    if (q.sql && name.startsWith('bai_runnable_'))
      scans.push({ name, sql: q.sql, bindings: q.bindings ?? [] });
  };
  const db = stack.manager.db;
  db.on('query', capture);
  try {
    const at = { group: 'default', horizon: new Date(), now: new Date() };
    for (const head of [null, 32]) await scanRunnable(db, head, at, 16, []);
  } finally {
    db.removeListener('query', capture);
  }
  t.deepEqual(
    scans.map((q) => q.name),
    ['bai_runnable_all', 'bai_runnable_32'],
  );
  for (const q of [...dispatchStatements.filter((d) => family(d.name) !== 'bai_runnable'), ...scans]) {
    for (const { scans: read, label } of await bothPlans(q, q.name)) {
      t.log(label);
      t.deepEqual(hotSeqScans(read), [], label);
    }
  }
});

/**
 * The reconciler's statements of every tick (the heartbeat's markAlive, timedOut) run on the
 * generic-plan pool: with the history, neither plan of either reads a hot table in full.
 */
test.serial('the reconciler tick statements read by index, generic plan or not', async (t) => {
  const ran: (RanQuery & { name: string })[] = [];
  const capture = (q: { sql?: string; bindings?: unknown[]; options?: { name?: string } }) => {
    const name = q.options?.name;
    if (q.sql && (name === 'bai_timed_out' || name === 'bai_mark_alive'))
      ran.push({ name, sql: q.sql, bindings: q.bindings ?? [] });
  };
  const db = stack.manager.db;
  db.on('query', capture);
  try {
    const fleet = new FleetStore(db);
    await fleet.timedOut(new Date(Date.now() - 60_000));
    // An agent id that matches no row: the statement is planned as the heartbeat's, and writes nothing.
    const hb = { at: new Date(), statusInfo: null, slots: { cpu: 1 }, scalingGroup: 'default' };
    t.is(
      await fleet.markAlive('no-such-agent', hb, { info: 'agent-disconnected', key: 'agentDisconnected' }),
      0,
    );
  } finally {
    db.removeListener('query', capture);
  }
  // The manager's own reconciler may tick on the same pool meanwhile (a loaded machine): the
  // same named statements, one text each. Each is checked once.
  const byName = new Map(ran.map((q) => [q.name, q]));
  t.deepEqual([...byName.keys()].sort(), ['bai_mark_alive', 'bai_timed_out']);
  for (const q of byName.values()) {
    for (const { scans, label } of await bothPlans(q, q.name)) {
      t.log(label);
      t.deepEqual(hotSeqScans(scans), [], label);
    }
  }
});

/**
 * Every live agent's heartbeat reads its sessions not over (activeOn) on the reconciler's
 * generic-plan pool: with the history all on one agent, neither plan reads that agent's ended
 * sessions (a generic plan that cannot prove the active statuses of a bound list read the
 * agent's whole history through sessions_agent_idx, then filtered it).
 */
test.serial("a heartbeat's read of its agent's live sessions reads none of its history", async (t) => {
  const ran: (RanQuery & { name: string })[] = [];
  const capture = (q: { sql?: string; bindings?: unknown[]; options?: { name?: string } }) => {
    const name = q.options?.name;
    if (q.sql && (name === 'bai_active_on' || name === 'bai_active_on_before'))
      ran.push({ name, sql: q.sql, bindings: q.bindings ?? [] });
  };
  const db = stack.manager.db;
  db.on('query', capture);
  try {
    const fleet = new FleetStore(db);
    t.deepEqual(await fleet.activeOn(HISTORY_AGENT), []);
    t.deepEqual(await fleet.activeOn(HISTORY_AGENT, new Date()), []);
  } finally {
    db.removeListener('query', capture);
  }
  const byName = new Map(ran.map((q) => [q.name, q]));
  t.deepEqual([...byName.keys()].sort(), ['bai_active_on', 'bai_active_on_before']);
  for (const q of byName.values()) {
    for (const generic of [false, true]) {
      const read = await rowsRead(stack.database.db, q, { generic });
      const label = `${q.name} (${generic ? 'generic' : 'custom'} plan): ${JSON.stringify(read)}`;
      t.log(label);
      t.true((read['sessions'] ?? 0) < 100, label);
    }
  }
});

test.serial('the seeded history is counted by the scrape without being read', async (t) => {
  const res = await fetch(`${stack.manager.url}/metrics`);
  const text = await res.text();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('bai_sessions{') && l.includes('status="TERMINATED"') && l.includes('result="SUCCESS"'),
    );
  t.truthy(line, 'a TERMINATED SUCCESS line');
  // The probe session of the first test, if it ran, plus the 100,000 seeded ones.
  t.true(Number(line!.split(' ').pop()) >= 100_000, line);
});
