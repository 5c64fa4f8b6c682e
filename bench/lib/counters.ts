import { Redis } from 'ioredis';
import { openDb } from '../../src/persistence/db.js';
import { sleep } from '../../src/stack/process-util.js';
import type { BenchStack } from './stack.js';

/**
 * Work counted by the servers themselves, immune to other users of the machine: PostgreSQL's
 * transactions (each statement outside BEGIN is one; a round trip inside one is not counted,
 * so statements are estimated from rows touched) and rows read and written, and Redis's
 * commands.
 */
export interface Counters {
  pgTransactions: number;
  pgRowsReturned: number;
  pgRowsFetched: number;
  pgRowsWritten: number;
  /** PostgreSQL connections opened (pg_stat_database.sessions): a pool's churn costs a backend start each. */
  pgConnections: number;
  redisCommands: number;
  /** Redis's calls per command (`INFO commandstats`; commands a script runs count under their own names). */
  redisByCommand: Record<string, number>;
  /** Per table: sequential scans' rows read and index scans' rows fetched. */
  tables: Record<string, { seqRead: number; idxFetch: number }>;
}

async function read(stack: BenchStack, database: string): Promise<Counters> {
  const db = openDb(stack.pg.url.replace(/\/[^/]*$/, `/${database}`), { min: 0, max: 1 });
  const redis = new Redis(stack.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await sleep(1_200); // backends report their statistics at most once a second
    const row = (await db.raw(
      `SELECT xact_commit + xact_rollback AS tx, tup_returned, tup_fetched, tup_inserted + tup_updated + tup_deleted AS written,
              sessions
         FROM pg_stat_database WHERE datname = ?`,
      [database],
    )) as {
      rows: { tx: string; tup_returned: string; tup_fetched: string; written: string; sessions: string }[];
    };
    const r = row.rows[0]!;
    const t = await db.raw(
      `SELECT relname, coalesce(seq_tup_read, 0) AS seq, coalesce(idx_tup_fetch, 0) AS idx FROM pg_stat_user_tables`,
    );
    await redis.connect();
    const info = await redis.info('stats');
    const cmds = Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? NaN);
    const byCommand: Record<string, number> = {};
    for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
      byCommand[m[1]!] = Number(m[2]);
    return {
      pgTransactions: Number(r.tx),
      pgRowsReturned: Number(r.tup_returned),
      pgRowsFetched: Number(r.tup_fetched),
      pgRowsWritten: Number(r.written),
      pgConnections: Number(r.sessions),
      redisCommands: cmds,
      redisByCommand: byCommand,
      tables: Object.fromEntries(
        ((t?.rows ?? []) as { relname: string; seq: string; idx: string }[]).map((x) => [
          x.relname,
          { seqRead: Number(x.seq), idxFetch: Number(x.idx) },
        ]),
      ),
    };
  } finally {
    await db.destroy();
    redis.disconnect();
  }
}

export type PerUnit = Record<Exclude<keyof Counters, 'tables' | 'redisByCommand'>, number> & {
  tables: Record<string, string>;
  /** Redis calls per unit by command, those of at least 0.1 a unit, the most called first. */
  redisByCommand: Record<string, number>;
};

/** Counts between begin() and end(), divided by `per` (e.g. sessions). */
export class CounterMeter {
  private start: Counters | null = null;

  constructor(
    private readonly stack: BenchStack,
    private readonly database = 'postgres',
  ) {}

  async begin(): Promise<void> {
    this.start = await read(this.stack, this.database);
  }

  async end(per: number): Promise<PerUnit> {
    const e = await read(this.stack, this.database);
    const s = this.start!;
    const r = (x: number) => Math.round((x / per) * 10) / 10;
    const tables: Record<string, string> = {};
    for (const [name, v] of Object.entries(e.tables)) {
      const b = s.tables[name] ?? { seqRead: 0, idxFetch: 0 };
      const seq = r(v.seqRead - b.seqRead);
      const idx = r(v.idxFetch - b.idxFetch);
      if (seq + idx >= 0.5) tables[name] = `seq ${seq} idx ${idx}`;
    }
    const byCommand = Object.entries(e.redisByCommand)
      .map(([name, calls]) => [name, r(calls - (s.redisByCommand[name] ?? 0))] as const)
      .filter(([, n]) => n >= 0.1)
      .sort((a, b) => b[1] - a[1]);
    return {
      pgTransactions: r(e.pgTransactions - s.pgTransactions),
      pgRowsReturned: r(e.pgRowsReturned - s.pgRowsReturned),
      pgRowsFetched: r(e.pgRowsFetched - s.pgRowsFetched),
      pgRowsWritten: r(e.pgRowsWritten - s.pgRowsWritten),
      pgConnections: r(e.pgConnections - s.pgConnections),
      redisCommands: r(e.redisCommands - s.redisCommands),
      redisByCommand: Object.fromEntries(byCommand),
      tables,
    };
  }
}
