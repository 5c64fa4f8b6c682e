import type { Db } from '../../src/persistence/db.js';
import { until } from './eventually.js';

/**
 * Resolves once a statement whose text contains `fragment` waits on a lock in this database
 * (pg_stat_activity): the moment a race test commits the transaction that holds the lock.
 */
export function untilWaitingOnLock(db: Db, fragment: string, what: string): Promise<true> {
  return until(what, async () => {
    const { rows } = (await db.raw(
      `SELECT count(*)::int AS n FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock' AND strpos(query, ?) > 0`,
      [fragment],
    )) as { rows: { n: number }[] };
    return rows[0]!.n > 0 || null;
  });
}
