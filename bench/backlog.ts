import { seedHistory } from '../src/persistence/history-seed.js';
import { insertCopies } from '../src/persistence/session-copies.js';
import { baiDrain } from './drain.js';
import { CounterMeter } from './lib/counters.js';
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
 * Each drain's PostgreSQL CPU and rows read per session; the target is the history's: within
 * 1.1× of the drain without them.
 */
export async function runBacklog(
  stack: BenchStack,
  n: number,
  waiting: number,
  log: (m: string) => void,
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
  const before = await measuredDrain(stack, n);
  log(`backlog: a drain of ${n} with none waiting: ${describe(before)}`);
  await addWaiting(stack, waiting);
  const after = await measuredDrain(stack, n);
  log(`backlog: a drain of ${n} past ${waiting} waiting: ${describe(after)}`);
  for (const table of ['sessions', 'kernels'])
    await stack.db.raw(`ALTER TABLE ${table} RESET (autovacuum_enabled)`);
  return {
    name: 'backlog',
    rows: [
      lowerIsBetter(
        {
          bench: 'backlog',
          metric: `PostgreSQL CPU per drained session, ${waiting} waiting unseen`,
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
          metric: `PostgreSQL rows read per drained session, ${waiting} waiting unseen`,
          unit: '',
          bai: after.rowsRead,
          baseline: before.rowsRead,
          baselineName: 'none waiting',
          target: '',
        },
        () => null,
      ),
    ],
    extra: { before, after, waiting, history: HISTORY },
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

async function measuredDrain(stack: BenchStack, n: number): Promise<DrainCost> {
  const counters = new CounterMeter(stack);
  await counters.begin();
  const meter = cpuMeter(stack);
  meter.begin();
  const d = await baiDrain(stack, n);
  const cpu = await meter.end();
  const c = await counters.end(n);
  return {
    totalMs: d.totalMs,
    pgMs: ((cpu.postgres ?? 0) / n) * 1000,
    rowsRead: Math.round(c.pgRowsReturned + c.pgRowsFetched),
    managerMs: ((cpu.manager ?? 0) / n) * 1000,
  };
}

/**
 * `count` PENDING sessions no agent can take: copies of a session the API made (insertCopies,
 * each with a name of its own, OWNER's, a slot no agent has, priority 0, no starts_at), each
 * with a copy of its kernel; the session copied is then cancelled. No ANALYZE after them.
 */
async function addWaiting(stack: BenchStack, count: number): Promise<void> {
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
  await insertCopies(stack.db, sessionId, count, (t, i) => ({
    name: `backlog-${i}`,
    access_key: OWNER,
    starts_at: null,
    priority: 0,
    created_at: now,
    requested_slots: { ...t.requested_slots, 'bench.none': 1 },
  }));
  await stack.client.request('DELETE', `/session/${sessionId}`);
}
