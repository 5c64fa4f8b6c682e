import type { Redis } from 'ioredis';
import { cleanupsDone, parseCleanup } from '../../queue/cleanup-stream.js';
import { cleanupStreamKey } from '../../queue/names.js';
import type { CleanupSessionJob } from '../../queue/payloads.js';
import type { Logger } from '../../log/logger.js';

export interface CleanupReaderDeps {
  redis: Redis;
  prefix: string;
  scalingGroup: string;
  agentId: string;
  log: Logger;
  /** Does one cleanup (idempotent: a cleanup done twice removes nothing the second time). */
  cleanup(job: CleanupSessionJob): Promise<void>;
}

/** Entries read per XREAD, and how long an idle read blocks. */
const COUNT = 16;
const BLOCK_MS = 10_000;

/**
 * The agent's reader of its cleanup stream: reads from the first entry at start (what is left
 * was not done: the agent deletes each entry once done), then what comes after. A cleanup that
 * fails (the engine away) stays in the stream and is tried again after 1 s doubling to 30 s.
 * One blocking connection of its own.
 */
export class CleanupReader {
  private readonly reader: Redis;
  private lastId = '0-0';
  private reading: Promise<void> | null = null;
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly retries = new Set<NodeJS.Timeout>();
  /** Done cleanups not yet deleted, and the deletion they wait for (one call per event-loop turn). */
  private doneBatch: { entryId: string; job: CleanupSessionJob | null }[] = [];
  private doneFlush: Promise<void> | null = null;

  constructor(private readonly deps: CleanupReaderDeps) {
    this.reader = deps.redis.duplicate();
    this.reader.on('error', () => {}); // the reads fail and are logged
  }

  start(): void {
    this.reading ??= this.loop();
  }

  private async loop(): Promise<void> {
    const { prefix, scalingGroup, agentId, log } = this.deps;
    const key = cleanupStreamKey(prefix, scalingGroup, agentId);
    let failures = 0;
    while (!this.closed) {
      try {
        const reply = (await this.reader.call(
          'XREAD',
          'COUNT',
          COUNT,
          'BLOCK',
          BLOCK_MS,
          'STREAMS',
          key,
          this.lastId,
        )) as [string, [string, string[] | null][]][] | null;
        failures = 0;
        for (const [, entries] of reply ?? [])
          for (const [entryId, fields] of entries) {
            this.lastId = entryId;
            this.run(entryId, parseCleanup(fields), 0);
          }
      } catch (err) {
        if (this.closed) break;
        failures++;
        log.error('cleanup read failed', { err: String(err) });
        await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * 2 ** Math.min(failures, 5))));
      }
    }
  }

  private run(entryId: string, job: CleanupSessionJob | null, failures: number): void {
    const { log } = this.deps;
    const p = (async () => {
      if (!job) {
        log.error('malformed job', { name: 'cleanup-session', id: entryId });
      } else {
        try {
          await this.deps.cleanup(job);
        } catch (err) {
          log.error('cleanup failed', { sessionId: job.sessionId, attempt: job.attempt, err: String(err) });
          if (this.closed) return; // left in the stream: read again at the next start
          const t = setTimeout(
            () => {
              this.retries.delete(t);
              if (!this.closed) this.run(entryId, job, failures + 1);
            },
            Math.min(30_000, 1_000 * 2 ** Math.min(failures, 5)),
          );
          this.retries.add(t);
          return;
        }
      }
      await this.finished(entryId, job);
    })();
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  /**
   * Deletes a done entry with its guard, together with the others done in the same event-loop
   * turn (several cleanups read at once finish together): one call for them all.
   */
  private finished(entryId: string, job: CleanupSessionJob | null): Promise<void> {
    const { redis, prefix, scalingGroup, agentId, log } = this.deps;
    this.doneBatch.push({ entryId, job });
    this.doneFlush ??= new Promise<void>((r) => setImmediate(r)).then(async () => {
      const batch = this.doneBatch;
      this.doneBatch = [];
      this.doneFlush = null;
      await cleanupsDone(redis, prefix, scalingGroup, agentId, batch).catch((err: unknown) =>
        // Left in the stream: done again at the next start (a cleanup done twice removes nothing).
        log.error('cleanup delete failed', { err: String(err) }),
      );
    });
    return this.doneFlush;
  }

  /** Stops reading; cleanups under way finish; what is unread or failed stays for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.retries) clearTimeout(t);
    this.retries.clear();
    this.reader.disconnect();
    await this.reading?.catch(() => {});
    await Promise.allSettled([...this.inFlight]);
  }
}
