import { openDb } from '../../src/persistence/db.js';
import type { BenchStack } from './stack.js';

/**
 * BENCH_PGSS=1: the bench's PostgreSQL loads `pg_stat_statements` with planning times, and the
 * drain says which statements PostgreSQL spent its time on (planning and executing, per drained
 * session), and whether JIT compiled any of them. Off by default: the extension's hooks cost a
 * little on every statement.
 */
export function pgssEnabled(): boolean {
  return process.env.BENCH_PGSS === '1';
}

/** The server settings the knob adds (`-c name=value`). */
export function pgssSettings(): string[] {
  return pgssEnabled()
    ? [
        'shared_preload_libraries=pg_stat_statements',
        'pg_stat_statements.track_planning=on',
        'pg_stat_statements.max=2000',
      ]
    : [];
}

export interface StatementCost {
  query: string;
  callsPerSession: number;
  /** Planning + execution time per drained session, ms. */
  msPerSession: number;
  meanPlanMs: number;
  meanExecMs: number;
  rowsPerCall: number;
  jitFunctions: number;
  jitMs: number;
}

export interface PgssReport {
  /** Sums over all statements, per drained session. */
  callsPerSession: number;
  planMsPerSession: number;
  execMsPerSession: number;
  jitMsPerSession: number;
  top: StatementCost[];
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Reset before the drain, read after it (the bench's own polls are in the list too, by their text). */
export class PgssMeter {
  constructor(private readonly stack: BenchStack) {}

  async begin(): Promise<void> {
    await this.stack.db.raw('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await this.stack.db.raw('SELECT pg_stat_statements_reset()');
  }

  async end(per: number, topN = 30): Promise<PgssReport> {
    const db = openDb(this.stack.pg.url, { min: 0, max: 1 });
    try {
      const r = (await db.raw(
        `SELECT query, calls, total_plan_time AS plan, total_exec_time AS exec, rows,
                jit_functions AS jitf,
                jit_generation_time + jit_inlining_time + jit_optimization_time + jit_emission_time AS jit
           FROM pg_stat_statements
          WHERE query NOT LIKE '%pg_stat_statements%'`,
      )) as {
        rows: {
          query: string;
          calls: string;
          plan: number;
          exec: number;
          rows: string;
          jitf: string;
          jit: number;
        }[];
      };
      const rows = r.rows.map((x) => ({
        query: x.query.replace(/\s+/g, ' ').slice(0, 240),
        calls: Number(x.calls),
        plan: Number(x.plan),
        exec: Number(x.exec),
        rows: Number(x.rows),
        jitf: Number(x.jitf),
        jit: Number(x.jit),
      }));
      rows.sort((a, b) => b.plan + b.exec - (a.plan + a.exec));
      const sum = (f: (x: (typeof rows)[number]) => number) => rows.reduce((a, x) => a + f(x), 0);
      return {
        callsPerSession: round(sum((x) => x.calls) / per, 1),
        planMsPerSession: round(sum((x) => x.plan) / per),
        execMsPerSession: round(sum((x) => x.exec) / per),
        jitMsPerSession: round(sum((x) => x.jit) / per),
        top: rows.slice(0, topN).map((x) => ({
          query: x.query,
          callsPerSession: round(x.calls / per),
          msPerSession: round((x.plan + x.exec) / per, 3),
          meanPlanMs: round(x.plan / Math.max(1, x.calls), 3),
          meanExecMs: round(x.exec / Math.max(1, x.calls), 3),
          rowsPerCall: round(x.rows / Math.max(1, x.calls), 1),
          jitFunctions: x.jitf,
          jitMs: round(x.jit),
        })),
      };
    } finally {
      await db.destroy();
    }
  }
}
