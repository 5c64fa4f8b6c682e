import type { Db } from './db.js';

/**
 * Expired history: sessions that ended before a cutoff, deleted a bounded batch per transaction
 * with everything that hangs off them (kernels and their stored logs, events, attempts,
 * dependencies, callback deliveries, idempotency keys: ON DELETE CASCADE). Array children go
 * with their parent; a session a live session still depends on is kept.
 */
export class HistoryStore {
  constructor(private readonly db: Db) {}

  /**
   * Deletes up to `limit` sessions that ended before `cutoff`, oldest first, in one transaction;
   * rows another transaction holds are skipped. Returns how many were deleted.
   */
  async pruneBatch(cutoff: Date, limit: number): Promise<number> {
    const res = (await this.db.raw(
      `DELETE FROM sessions WHERE id IN (
         SELECT s.id FROM sessions s
          WHERE s.status IN ('TERMINATED', 'CANCELLED') AND s.array_parent_id IS NULL
            AND s.terminated_at < ?
            AND NOT EXISTS (
              SELECT 1 FROM session_dependencies d JOIN sessions l ON l.id = d.session_id
               WHERE d.depends_on = s.id AND l.status NOT IN ('TERMINATED', 'CANCELLED'))
          ORDER BY s.terminated_at
          LIMIT ? FOR UPDATE SKIP LOCKED)`,
      [cutoff, limit],
    )) as { rowCount: number | null };
    return res.rowCount ?? 0;
  }
}
