import type { Logger } from '../../log/logger.js';
import type { HistoryStore } from '../../persistence/history-store.js';

const DAY_MS = 24 * 3600 * 1000;
/** Batches per pass at most: a long backlog is worked off over several passes. */
const MAX_BATCHES_PER_PASS = 100;

export interface HistoryPrunerOptions {
  store: Pick<HistoryStore, 'pruneBatch'>;
  log: Logger;
  /** Sessions that ended longer ago than this are deleted; 0 keeps everything. */
  retentionDays: number;
  /** Sessions per transaction. */
  batch: number;
  /** Renews the pass's lease before each batch; false: another manager holds it, stop. */
  holdLease: () => Promise<boolean>;
}

/**
 * The history pruner's pass: deletes the sessions that ended before now − retention, one
 * bounded batch per transaction, until a batch comes back short. Runs on one manager at a time
 * (under a lease), so two managers never delete the same batch twice over.
 */
export class HistoryPruner {
  private closed = false;
  /** Sessions deleted since start, for tests and logs. */
  pruned = 0;
  /** Batches (transactions) run since start. */
  batches = 0;

  constructor(private readonly o: HistoryPrunerOptions) {}

  async pass(now = Date.now()): Promise<number> {
    if (this.o.retentionDays <= 0) return 0;
    const cutoff = new Date(now - this.o.retentionDays * DAY_MS);
    let deleted = 0;
    for (let i = 0; i < MAX_BATCHES_PER_PASS && !this.closed; i++) {
      if (!(await this.o.holdLease())) break;
      const n = await this.o.store.pruneBatch(cutoff, this.o.batch);
      this.batches += 1;
      deleted += n;
      if (n < this.o.batch) break;
    }
    this.pruned += deleted;
    if (deleted > 0)
      this.o.log.info('history pruned', { sessions: deleted, endedBefore: cutoff.toISOString() });
    return deleted;
  }

  /** Stops between batches: a batch under way commits first (the Loop waits for it). */
  close(): void {
    this.closed = true;
  }
}
