import type { Knex } from 'knex';

/**
 * Sessions waiting out a retry's backoff wait out of the queue, as those due later do. A fan-out
 * that failed and is retried with a backoff sat in the queue's index until its backoff ended:
 * ahead of the queue (its priority), it filled the head with sessions no pass could place, so
 * every pass read the whole queue, and every survey read each of them in the `backoff`
 * explainer (docs/benchmarks.md, round twenty-six).
 *
 * A retry whose backoff has not ended is now flagged `due_later` when it is sent back to PENDING
 * (SessionStore.requeueForRetryIn, which also writes its predicate), and the survey clears the
 * flag once `retry_after` has passed. The two kinds of flagged sessions are told apart by
 * `retry_after`, each with an index of its own, so that neither reads the other's:
 * - sessions_pending_due_later_idx: flagged for their starts_at (no retry_after);
 * - sessions_pending_retry_later_idx: flagged for their backoff, in `retry_after` order;
 * - sessions_pending_backoff_idx: the PENDING sessions with a retry_after that are not flagged
 *   (in the queue: their backoff is over, or they were sent back before this migration and are
 *   explained and waited out as before).
 * pending_later_at reads the first kind only; pending_retries_due(now) gives the second kind's
 * sessions whose backoff is over.
 */
export async function up(knex: Knex): Promise<void> {
  await indexes(knex, {
    dueLater: `status = 'PENDING' AND due_later AND retry_after IS NULL`,
    backoff: `status = 'PENDING' AND retry_after IS NOT NULL AND NOT due_later`,
  });
  await knex.raw(
    `CREATE INDEX sessions_pending_retry_later_idx ON sessions (scaling_group, retry_after)
      WHERE status = 'PENDING' AND due_later AND retry_after IS NOT NULL`,
  );
  await laterAt(knex, 'AND s.retry_after IS NULL');
  // The flagged retries whose backoff is over, for the survey's `due_retry`: asked in the order
  // their index alone gives, with sorting off, so that the plan is that index whatever the
  // statistics say (with statistics that had seen no retry, the live sessions' index of every
  // PENDING session was the plan).
  await knex.raw(`
    CREATE FUNCTION pending_retries_due(instant timestamptz) RETURNS SETOF uuid
      LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
    BEGIN
      RETURN QUERY SELECT s.id FROM sessions s
       WHERE s.status = 'PENDING' AND s.due_later AND s.retry_after IS NOT NULL AND s.retry_after <= instant
       ORDER BY s.scaling_group, s.retry_after;
    END $$`);
}

export async function down(knex: Knex): Promise<void> {
  // Flagged retries go back to the queue, where the runnable scan skips them until their backoff ends.
  await knex.raw(
    `UPDATE sessions SET due_later = false WHERE status = 'PENDING' AND due_later AND retry_after IS NOT NULL`,
  );
  await knex.raw('DROP FUNCTION IF EXISTS pending_retries_due(timestamptz)');
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_retry_later_idx');
  await indexes(knex, {
    dueLater: `status = 'PENDING' AND due_later`,
    backoff: `status = 'PENDING' AND retry_after IS NOT NULL`,
  });
  await laterAt(knex, '');
}

async function indexes(knex: Knex, where: { dueLater: string; backoff: string }): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_due_later_idx');
  await knex.raw(
    `CREATE INDEX sessions_pending_due_later_idx ON sessions (scaling_group, starts_at) WHERE ${where.dueLater}`,
  );
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_backoff_idx');
  await knex.raw(
    `CREATE INDEX sessions_pending_backoff_idx ON sessions (scaling_group, retry_after) WHERE ${where.backoff}`,
  );
}

/**
 * pending_later_at (migration 20261202180000) as it was, its second read restricted by `flagged`
 * (the predicate of the index it reads).
 */
async function laterAt(knex: Knex, flagged: string): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION pending_later_at(grp text, after timestamptz) RETURNS timestamptz
      LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
    DECLARE
      a timestamptz;
      b timestamptz;
    BEGIN
      SELECT s.starts_at INTO a FROM sessions s
       WHERE s.scaling_group = grp AND s.status = 'PENDING' AND s.starts_at IS NOT NULL
         AND NOT s.due_later AND s.starts_at > after
       ORDER BY s.starts_at LIMIT 1;
      SELECT s.starts_at INTO b FROM sessions s
       WHERE s.scaling_group = grp AND s.status = 'PENDING' AND s.due_later ${flagged} AND s.starts_at > after
       ORDER BY s.starts_at LIMIT 1;
      RETURN LEAST(a, b);
    END $$`);
}
