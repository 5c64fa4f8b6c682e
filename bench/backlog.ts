import { seedHistory } from '../src/persistence/history-seed.js';
import { insertCopies } from '../src/persistence/session-copies.js';
import type { SessionRow } from '../src/persistence/rows.js';
import { SessionStore } from '../src/persistence/session-store.js';
import { baiDrain } from './drain.js';
import { CounterMeter } from './lib/counters.js';
import { PgssMeter, pgssEnabled } from './lib/pgss.js';
import { cpuMeter, type BenchStack } from './lib/stack.js';
import { lowerIsBetter, type BenchResult } from './lib/result.js';

/** Ended sessions in the database when its statistics are taken. */
const HISTORY = 20_000;
/** The keypair of the history and of the sessions waiting (the drain's keypair has a pending limit). */
const OWNER = 'AKBENCHBACKLOG000000';

/**
 * `backlog` (run when named: BENCH_ONLY=backlog): what sessions waiting in numbers the
 * planner's statistics have not seen cost each drained session. The database first gets
 * HISTORY ended sessions and ANALYZE, with autovacuum off for sessions and kernels on this
 * throw-away server (the statistics then stay as taken: no session waiting, as after a quiet
 * night before a CI fan-out). A drain of `n` true sessions warms the processes up, a second
 * one is measured (the baseline); then `waiting`
 * PENDING sessions that no agent can take are added (they ask for a slot no agent has, at a
 * lower priority than the drain's, so they stay behind it) and a drain of `n` runs past them.
 * Before that drain, the manager writes the waiting sessions' first predicates (`registered`).
 * Each drain's PostgreSQL CPU and rows read per session; the target is the history's: within
 * 1.1× of the drain without them.
 */
export async function runBacklog(
  stack: BenchStack,
  n: number,
  waiting: number,
  log: (m: string) => void,
  kind: BacklogKind = 'unplaceable',
): Promise<BenchResult> {
  await seedHistory(stack.db, {
    sessions: HISTORY,
    accessKey: OWNER,
    endedDaysAgo: [1, 10],
  });
  for (const table of ['sessions', 'kernels'])
    await stack.db.raw(`ALTER TABLE ${table} SET (autovacuum_enabled = false)`);
  await stack.db.raw('ANALYZE');
  // Not measured: V8 compiles the manager's and agent's paths, PostgreSQL plans the statements.
  await baiDrain(stack, n);
  const before = await measuredDrain(stack, n, log);
  log(`backlog: a drain of ${n} with none waiting: ${describe(before)}`);
  await addWaiting(stack, waiting, kind);
  log(
    `backlog: ${waiting} ${kind} waiting registered in ${await registered(stack, waiting)} ms (not measured)`,
  );
  const after = await measuredDrain(stack, n, log);
  log(`backlog: a drain of ${n} past ${waiting} waiting (${kind}): ${describe(after)}`);
  for (const table of ['sessions', 'kernels'])
    await stack.db.raw(`ALTER TABLE ${table} RESET (autovacuum_enabled)`);
  return {
    name: 'backlog',
    rows: [
      lowerIsBetter(
        {
          bench: 'backlog',
          metric: `PostgreSQL CPU per drained session, ${waiting} ${kind} waiting unseen`,
          unit: 'ms',
          bai: after.pgMs,
          baseline: before.pgMs,
          baselineName: 'none waiting',
          target: '≤ 1.1×',
        },
        (ratio) => (ratio === null ? null : ratio <= 1.1),
      ),
      lowerIsBetter(
        {
          bench: 'backlog',
          metric: `PostgreSQL rows read per drained session, ${waiting} ${kind} waiting unseen`,
          unit: '',
          bai: after.rowsRead,
          baseline: before.rowsRead,
          baselineName: 'none waiting',
          target: '',
        },
        () => null,
      ),
    ],
    extra: { before, after, waiting, kind, history: HISTORY },
  };
}

interface DrainCost {
  totalMs: number;
  /** PostgreSQL's CPU per drained session, ms. */
  pgMs: number;
  /** Rows PostgreSQL's scans returned and its index scans fetched, per drained session. */
  rowsRead: number;
  managerMs: number;
}

function describe(c: DrainCost): string {
  return (
    `${c.totalMs} ms; per session PostgreSQL ${c.pgMs.toFixed(1)} ms of CPU, ${c.rowsRead} rows read; ` +
    `manager ${c.managerMs.toFixed(1)} ms`
  );
}

async function measuredDrain(stack: BenchStack, n: number, log: (m: string) => void): Promise<DrainCost> {
  const counters = new CounterMeter(stack);
  await counters.begin();
  // BENCH_PGSS=1: which statements PostgreSQL spent its time on, per drained session.
  const pgss = pgssEnabled() ? new PgssMeter(stack) : null;
  await pgss?.begin();
  const meter = cpuMeter(stack);
  meter.begin();
  const d = await baiDrain(stack, n);
  const cpu = await meter.end();
  const statements = await pgss?.end(n);
  if (statements) log(`backlog: pg_stat_statements per session ${JSON.stringify(statements, null, 1)}`);
  const c = await counters.end(n);
  return {
    totalMs: d.totalMs,
    pgMs: ((cpu.postgres ?? 0) / n) * 1000,
    rowsRead: Math.round(c.pgRowsReturned + c.pgRowsFetched),
    managerMs: ((cpu.manager ?? 0) / n) * 1000,
  };
}

/**
 * Waits until the manager has written the waiting sessions' first predicates (the first read of
 * the whole queue after they came), with a drain of one to wake it: a cost each waiting session
 * pays once, not one of the drain measured after it. Returns how long it took.
 */
async function registered(stack: BenchStack, waiting: number): Promise<number> {
  const t0 = Date.now();
  await baiDrain(stack, 1);
  const deadline = t0 + 300_000;
  for (;;) {
    const { rows } = (await stack.db.raw(
      `SELECT count(*)::int AS n FROM sessions
        WHERE access_key = ? AND status = 'PENDING' AND (status_data -> 'predicates') IS NOT NULL`,
      [OWNER],
    )) as { rows: { n: number }[] };
    if (rows[0]!.n >= waiting) return Date.now() - t0;
    if (Date.now() > deadline) throw new Error(`only ${rows[0]!.n} of ${waiting} waiting have predicates`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * What holds the sessions waiting (BENCH_BACKLOG_KIND). `unplaceable`: they ask for a slot no
 * agent has, at a lower priority than the drain's, so they wait behind it for capacity.
 * The others wait at a higher priority than the drain's, so they fill the head of the queue:
 * `gated`, their keypair is at its limit of running sessions (a policy of its own allows none:
 * a CI fan-out whose keypair's limit is used up by long jobs); `dependent`, each depends on one
 * session that has not run yet (a fan-out waiting on its build job, due tomorrow); `later`,
 * each is due tomorrow (`starts_at`); `array`, they are the children of one array at its
 * parallelism (a parallelism of 0 stands for one whose running children fill it, so that
 * none of them holds the drain's slots); `retry`, each failed and was sent back by its retry
 * policy (SessionStore.requeueForRetry, as the report handler does) with a backoff of a day;
 * `retry-due`, sent back the same way with a backoff already over, and waiting for capacity as
 * `unplaceable` ones do (a failed fan-out's second attempts behind a busy group).
 */
export const BACKLOG_KINDS = [
  'unplaceable',
  'gated',
  'dependent',
  'later',
  'array',
  'retry',
  'retry-due',
] as const;
export type BacklogKind = (typeof BACKLOG_KINDS)[number];

/**
 * `count` PENDING sessions that cannot run (BacklogKind): copies of a session the API made
 * (insertCopies, each with a name of its own, OWNER's), each with a copy of its kernel; the
 * session copied, due tomorrow, is then cancelled, or kept as the dependency. No ANALYZE after them.
 */
async function addWaiting(stack: BenchStack, count: number, kind: BacklogKind): Promise<void> {
  if (kind === 'gated') {
    await stack
      .db('keypair_resource_policies')
      .insert({ name: 'bench-backlog-gated', max_concurrent_sessions: 0 });
    await stack
      .db('keypairs')
      .where({ access_key: OWNER })
      .update({ resource_policy: 'bench-backlog-gated' });
  }
  const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
  const { sessionId } = await stack.client.request<{ sessionId: string }>('POST', '/session', {
    image: 'python',
    type: 'batch',
    startupCommand: 'true',
    enqueueOnly: true,
    name: 'backlog-template',
    starts_at: tomorrow,
  });
  const now = new Date();
  const unplaceable = kind === 'unplaceable' || kind === 'retry-due';
  const retry = kind === 'retry' || kind === 'retry-due';
  // An array's parent is never placed (array_size: out of the queue); its children are copies.
  const [parent] =
    kind === 'array'
      ? await insertCopies(stack.db, sessionId, 1, () => ({
          name: 'backlog-array',
          access_key: OWNER,
          starts_at: null,
          array_size: count,
          array_parallelism: 0,
        }))
      : [];
  const copies = await insertCopies(
    stack.db,
    sessionId,
    count,
    (t, i) => ({
      name: `backlog-${i}`,
      ...(parent ? { array_parent_id: parent, array_index: i } : {}),
      access_key: OWNER,
      starts_at: kind === 'later' ? new Date(tomorrow) : null,
      priority: unplaceable ? 0 : 100,
      created_at: now,
      requested_slots: unplaceable ? { ...t.requested_slots, 'bench.none': 1 } : t.requested_slots,
      // A retry's first attempt ran (on no agent: nothing of it is left to stop).
      ...(retry ? { status: 'RUNNING' as const } : {}),
    }),
    kind === 'dependent' ? [sessionId] : [],
  );
  if (retry) {
    const store = new SessionStore(stack.db);
    const rows = (await stack.db('sessions').whereIn('id', copies)) as SessionRow[];
    const at = kind === 'retry' ? new Date(tomorrow) : new Date(Date.now() - 1000);
    for (const row of rows) {
      await store.requeueForRetry(row, {
        reason: 'exit code 1',
        exitCode: 1,
        at,
        data: {},
      });
    }
  }
  // The template is the build job the dependent ones wait on; otherwise it goes.
  if (kind !== 'dependent') await stack.client.request('DELETE', `/session/${sessionId}`);
}
