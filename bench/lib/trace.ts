import { openSync, readSync, statSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { openDb } from '../../src/persistence/db.js';
import type { BenchStack } from './stack.js';

/**
 * Where the round trips of a bench interval come from (BENCH_TRACE=1): PostgreSQL's
 * `log_statement = all` over the interval (read back from the throw-away server's log) and a
 * Redis MONITOR, each grouped by the statement's or command's shape (literals, ids and numbers
 * blanked), counted per session. Tracing slows both servers: its run's timings are not figures.
 */
export interface TraceBreakdown {
  pg: { shape: string; perSession: number }[];
  redis: { shape: string; perSession: number }[];
}

const pgLog = (stack: BenchStack) => join(stack.base, 'pg', 'postgres.log');

function pgShape(sql: string): string {
  return sql
    .replace(/'(?:[^']|'')*'/g, "'…'")
    .replace(/\$\d+/g, '?')
    .replace(/\b\d+(\.\d+)?\b/g, 'N')
    .replace(/\(\?(?:, \?)+\)/g, '(?…)')
    .replace(/\s+/g, ' ')
    .slice(0, 110);
}

function redisShape(args: string[]): string {
  const [cmd, ...more] = args;
  // EVALSHA sha numkeys key…: named by the script's first key (BullMQ's scripts).
  const isEval = /^eval/i.test(cmd ?? '');
  const rest = isEval ? [`${(more[0] ?? '').slice(0, 6)} ${more[2] ?? ''}`] : more;
  const key = (rest[0] ?? '')
    .replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<uuid>')
    .replace(/\d{6,}/g, '<n>')
    .replace(/:(progress|exit|failed|cleanup|run|destroy|agent-started)[.-][^:]*/g, ':<$1 job>');
  return `${(cmd ?? '').toUpperCase()} ${key}`.slice(0, 110);
}

function top(m: Map<string, number>, per: number): { shape: string; perSession: number }[] {
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 100)
    .map(([shape, n]) => ({ shape, perSession: Math.round((n / per) * 100) / 100 }));
}

export class Tracer {
  private offset = 0;
  private monitor: Socket | null = null;
  private readonly redisCounts = new Map<string, number>();

  constructor(private readonly stack: BenchStack) {}

  private async setLogging(on: boolean): Promise<void> {
    const db = openDb(this.stack.pg.url, { min: 0, max: 1 });
    try {
      await db.raw(on ? `ALTER SYSTEM SET log_statement = 'all'` : `ALTER SYSTEM RESET log_statement`);
      await db.raw(`SELECT pg_reload_conf()`);
    } finally {
      await db.destroy();
    }
  }

  async begin(): Promise<void> {
    this.offset = statSync(pgLog(this.stack)).size;
    await this.setLogging(true);
    // A plain socket in MONITOR mode: one line per command, `+<time> [<db> <client>] "cmd" "arg" …`.
    const u = new URL(this.stack.redis.url);
    const sock = connect(Number(u.port), u.hostname);
    await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
    sock.write('MONITOR\r\n');
    let rest = '';
    sock.on('data', (b: Buffer) => {
      const lines = (rest + b.toString('utf8')).split('\r\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^\+\d+\.\d+ \[[^\]]*\] (.*)$/.exec(line);
        if (!m) continue;
        const args = [...m[1]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].slice(0, 4).map((x) => x[1]!);
        const k = redisShape(args);
        this.redisCounts.set(k, (this.redisCounts.get(k) ?? 0) + 1);
      }
    });
    this.monitor = sock;
  }

  async end(per: number): Promise<TraceBreakdown> {
    await this.setLogging(false);
    this.monitor?.destroy();
    const path = pgLog(this.stack);
    const size = statSync(path).size;
    const fd = openSync(path, 'r');
    const buf = Buffer.alloc(size - this.offset);
    readSync(fd, buf, 0, buf.length, this.offset);
    closeSync(fd);
    const counts = new Map<string, number>();
    // One statement per entry: "LOG:  statement: …" (simple protocol) or "LOG:  execute …: …".
    const entries = buf.toString('utf8').split(/\n(?=\S)/);
    for (const e of entries) {
      const m = /LOG:\s+(?:statement|execute [^:]*):\s+([\s\S]*)/.exec(e);
      if (!m) continue;
      const k = pgShape(m[1]!);
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    return { pg: top(counts, per), redis: top(this.redisCounts, per) };
  }
}
