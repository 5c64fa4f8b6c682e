import { analyze, seqScanCounts } from '../src/persistence/plan-check.js';
import { seedHistory } from '../src/persistence/history-seed.js';
import { sleep } from '../src/stack/process-util.js';
import { runDrain } from './drain.js';
import { runOverhead } from './overhead.js';
import type { PerUnit } from './lib/counters.js';
import { lowerIsBetter, type BenchResult, type Row } from './lib/result.js';
import type { BenchStack } from './lib/stack.js';
import type { Summary } from './lib/stats.js';

const HOT_TABLES = ['sessions', 'kernels', 'session_events'] as const;
/** The keypair that owns the seeded history (not the bench's own: its listings stay its own). */
const HISTORY_KEY = 'AKBENCHHISTORY000001';

/** The figures of one round (empty database, or with the history), per session. */
interface Round {
  overheadMs: Summary;
  overhead: PerUnit;
  drainMs: number;
  drain: PerUnit;
  /** Control-plane CPU per drained session (manager + agent + PostgreSQL + Redis), ms. */
  cpuMsPerSession: number;
  /** Sequential scans of sessions, kernels and session_events during both runs. */
  seqScans: Record<string, number>;
}

async function seqScansNow(stack: BenchStack): Promise<Record<string, number>> {
  await sleep(1_200); // backends report their statistics at most once a second
  return seqScanCounts(stack.db, HOT_TABLES);
}

async function round(stack: BenchStack, samples: number, drainN: number, log: (m: string) => void) {
  const before = await seqScansNow(stack);
  const o = await runOverhead(stack, samples, log);
  const d = await runDrain(stack, drainN, 4, log);
  const after = await seqScansNow(stack);
  const cpu = (d.extra!.cpuSeconds as { bai: Record<string, number> }).bai;
  const control = (cpu.manager ?? 0) + (cpu.agent ?? 0) + (cpu.postgres ?? 0) + (cpu.redis ?? 0);
  const r: Round = {
    overheadMs: o.rows[0]!.bai as Summary,
    overhead: o.extra!.perSession as PerUnit,
    drainMs: d.extra!.baiMs as number,
    drain: d.extra!.perSession as PerUnit,
    cpuMsPerSession: (control * 1000) / drainN,
    seqScans: Object.fromEntries(HOT_TABLES.map((t) => [t, after[t]! - before[t]!])),
  };
  return r;
}

const rowsRead = (p: PerUnit) => p.pgRowsReturned + p.pgRowsFetched;

/**
 * The present with history: overhead and drain on the empty database, then again after a
 * million ended sessions (a kernel, a stored log and four events each) are loaded by INSERT …
 * SELECT generate_series and analyzed; each figure printed as with-history ÷ empty, measured
 * in the same run. The sequential scans of the hot tables during each round are counted.
 */
export async function runHistory(
  stack: BenchStack,
  opts: { sessions: number; samples: number; drain: number },
  log: (m: string) => void = () => {},
): Promise<BenchResult> {
  log('history: round 1, empty database');
  const empty = await round(stack, opts.samples, opts.drain, log);
  const t0 = performance.now();
  await seedHistory(stack.db, { sessions: opts.sessions, accessKey: HISTORY_KEY, endedDaysAgo: [1, 29] });
  const seedMs = performance.now() - t0;
  const t1 = performance.now();
  await analyze(stack.db);
  const analyzeMs = performance.now() - t1;
  log(
    `history: ${opts.sessions} ended sessions seeded in ${(seedMs / 1000).toFixed(1)} s, ANALYZE ${(analyzeMs / 1000).toFixed(1)} s`,
  );
  log('history: round 2, with the history');
  const full = await round(stack, opts.samples, opts.drain, log);
  log(
    `history: seq scans empty ${JSON.stringify(empty.seqScans)}, with history ${JSON.stringify(full.seqScans)}`,
  );

  const target = '≤ 1.1×';
  const within = (ratio: number | null) => (ratio === null ? null : ratio <= 1.1);
  const row = (metric: string, unit: string, bai: Summary | number, base: Summary | number): Row =>
    lowerIsBetter(
      { bench: 'history', metric, unit, bai, baseline: base, baselineName: 'empty database', target },
      within,
    );
  const seqWith = HOT_TABLES.reduce((a, t) => a + full.seqScans[t]!, 0);
  const seqEmpty = HOT_TABLES.reduce((a, t) => a + empty.seqScans[t]!, 0);
  return {
    name: 'history',
    rows: [
      row('overhead: submit→TERMINATED', 'ms', full.overheadMs, empty.overheadMs),
      row(`drain ${opts.drain} sessions: total`, 'ms', full.drainMs, empty.drainMs),
      row('PG transactions / drained session', 'tx', full.drain.pgTransactions, empty.drain.pgTransactions),
      row('PG rows read / drained session', 'rows', rowsRead(full.drain), rowsRead(empty.drain)),
      row('PG rows read / overhead session', 'rows', rowsRead(full.overhead), rowsRead(empty.overhead)),
      row('control-plane CPU / drained session', 'ms', full.cpuMsPerSession, empty.cpuMsPerSession),
      {
        bench: 'history',
        metric: 'seq scans of sessions/kernels/session_events',
        unit: 'scans',
        bai: seqWith,
        baseline: seqEmpty,
        baselineName: 'empty database',
        ratioMedian: null,
        ratioP95: null,
        target: '0 with history',
        met: seqWith === 0,
      },
    ],
    extra: { sessions: opts.sessions, seedMs, analyzeMs, empty, withHistory: full },
  };
}
