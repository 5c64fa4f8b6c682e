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
        // BENCH_PG_PRELOAD=,auto_explain: more libraries to preload (appended to the list as is).
        `shared_preload_libraries=pg_stat_statements${process.env.BENCH_PG_PRELOAD ?? ''}`,
        'pg_stat_statements.track_planning=on',
        'pg_stat_statements.max=2000',
        // BENCH_PG_SETTINGS=a=1,b=2: more settings for an experiment on the throw-away server
        // (e.g. autovacuum=off, plan_cache_mode=force_generic_plan); never used by bai itself.
        ...(process.env.BENCH_PG_SETTINGS ?? '').split(',').filter((x) => x.includes('=')),
      ]
    : [];
}

export interface StatementCost {
  query: string;
  callsPerSession: number;
  /** Planning + execution time per drained session, ms. */
  msPerSession: number;
  meanPlanMs: number;
  /** Times it was planned per call (1: every call; a cached generic plan: ~0). */
  plansPerCall: number;
  meanExecMs: number;
  rowsPerCall: number;
  /** Shared buffers it touched per call (hit or read): how much it read, functions' statements included. */
  blocksPerCall: number;
  jitFunctions: number;
  jitMs: number;
}

export interface PgssReport {
  /** Sums over all statements, per drained session. */
  callsPerSession: number;
  planMsPerSession: number;
  execMsPerSession: number;
  jitMsPerSession: number;
  /** Per table: autovacuum/autoanalyze/vacuum/analyze runs during the drain (each invalidates cached plans). */
  maintenance: Record<string, { autovacuum: number; autoanalyze: number; vacuum: number; analyze: number }>;
  top: StatementCost[];
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

/** Reset before the drain, read after it (the bench's own polls are in the list too, by their text). */
export class PgssMeter {
  private before: PgssReport['maintenance'] = {};

  constructor(private readonly stack: BenchStack) {}

  async begin(): Promise<void> {
    await this.stack.db.raw('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    this.before = await this.maintenance();
    await this.stack.db.raw('SELECT pg_stat_statements_reset()');
  }

  private async maintenance(): Promise<PgssReport['maintenance']> {
    const r = (await this.stack.db.raw(
      `SELECT relname, autovacuum_count AS av, autoanalyze_count AS aa, vacuum_count AS v, analyze_count AS a
         FROM pg_stat_user_tables`,
    )) as { rows: { relname: string; av: string; aa: string; v: string; a: string }[] };
    const out: PgssReport['maintenance'] = {};
    for (const x of r.rows) {
      out[x.relname] = { autovacuum: +x.av, autoanalyze: +x.aa, vacuum: +x.v, analyze: +x.a };
    }
    return out;
  }

  async end(per: number, topN = Number(process.env.BENCH_PGSS_TOP ?? 30)): Promise<PgssReport> {
    const db = openDb(this.stack.pg.url, { min: 0, max: 1 });
    try {
      const r = (await db.raw(
        `SELECT query, calls, plans, total_plan_time AS plan, total_exec_time AS exec, rows,
                shared_blks_hit + shared_blks_read AS blocks, jit_functions AS jitf,
                jit_generation_time + jit_inlining_time + jit_optimization_time + jit_emission_time AS jit
           FROM pg_stat_statements
          WHERE query NOT LIKE '%pg_stat_statements%'`,
      )) as {
        rows: {
          query: string;
          calls: string;
          plans: string;
          plan: number;
          exec: number;
          rows: string;
          blocks: string;
          jitf: string;
          jit: number;
        }[];
      };
      const rows = r.rows.map((x) => ({
        query: x.query.replace(/\s+/g, ' ').slice(0, 240),
        calls: Number(x.calls),
        plans: Number(x.plans),
        plan: Number(x.plan),
        exec: Number(x.exec),
        rows: Number(x.rows),
        blocks: Number(x.blocks),
        jitf: Number(x.jitf),
        jit: Number(x.jit),
      }));
      rows.sort((a, b) => b.plan + b.exec - (a.plan + a.exec));
      // Stats are cumulative, sent by the server a little after each run: only the changes.
      const now = await this.maintenance();
      const maintenance: PgssReport['maintenance'] = {};
      for (const [t, m] of Object.entries(now)) {
        const b = this.before[t] ?? { autovacuum: 0, autoanalyze: 0, vacuum: 0, analyze: 0 };
        const d = {
          autovacuum: m.autovacuum - b.autovacuum,
          autoanalyze: m.autoanalyze - b.autoanalyze,
          vacuum: m.vacuum - b.vacuum,
          analyze: m.analyze - b.analyze,
        };
        if (d.autovacuum + d.autoanalyze + d.vacuum + d.analyze > 0) maintenance[t] = d;
      }
      const sum = (f: (x: (typeof rows)[number]) => number) => rows.reduce((a, x) => a + f(x), 0);
      return {
        callsPerSession: round(sum((x) => x.calls) / per, 1),
        planMsPerSession: round(sum((x) => x.plan) / per),
        execMsPerSession: round(sum((x) => x.exec) / per),
        jitMsPerSession: round(sum((x) => x.jit) / per),
        maintenance,
        top: rows.slice(0, topN).map((x) => ({
          query: x.query,
          callsPerSession: round(x.calls / per),
          msPerSession: round((x.plan + x.exec) / per, 3),
          meanPlanMs: round(x.plan / Math.max(1, x.calls), 3),
          plansPerCall: round(x.plans / Math.max(1, x.calls), 3),
          meanExecMs: round(x.exec / Math.max(1, x.calls), 3),
          rowsPerCall: round(x.rows / Math.max(1, x.calls), 1),
          blocksPerCall: round(x.blocks / Math.max(1, x.calls), 1),
          jitFunctions: x.jitf,
          jitMs: round(x.jit),
        })),
      };
    } finally {
      await db.destroy();
    }
  }
}
