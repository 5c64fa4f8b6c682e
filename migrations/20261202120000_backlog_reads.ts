import type { Knex } from 'knex';

/** The statuses a keypair's sessions count against its concurrency limit in (ACTIVE_STATUSES). */
const ACTIVE = `('SCHEDULED', 'PREPARING', 'PULLING', 'PREPARED', 'CREATING', 'RUNNING', 'TERMINATING')`;
/** The statuses of a session on its way to RUNNING (PREPARE_STATUSES). */
const PREPARING = `('SCHEDULED', 'PREPARING', 'PULLING', 'PREPARED', 'CREATING')`;

/**
 * Reads of the PENDING sessions whose plan does not hang on the planner's statistics. Taken
 * while few sessions waited (autoanalyze waits for a tenth of the table to change), the
 * statistics say a status nobody had then matches a row or so, and every plan reading
 * PENDING sessions looks as cheap as any other. PostgreSQL then read the whole backlog on every
 * pass of the dispatcher, to take a page from its head (docs/benchmarks.md, round twenty-two).
 *
 * - sessions_pending_later_idx replaces sessions_pending_starts_idx: the PENDING sessions of a
 *   group by starts_at, now only those that have one. Its readers ask for a starts_at beyond an
 *   instant or the first one; the old index held every PENDING session, and the page from the
 *   head of the queue was read through it and sorted.
 * - sessions_owner_active_idx: a keypair's sessions that count against its concurrency limit,
 *   as the runnable scan counts them; sessions_live_counts_idx, whose predicate that count
 *   proves, holds every live session of every keypair, the backlog with them.
 * - sessions_preparing_idx: the sessions on their way to RUNNING by when they last moved, which
 *   the reconciler's tick asks for (a phase timed out); it read every live session through
 *   sessions_live_counts_idx.
 * - pending_queue_head(group, n): the ids of the first `n` PENDING sessions of a group in the
 *   queue's order (scheduler-sql.ts, queueOrder; array parents are never placed), read from
 *   sessions_pending_queue_idx in its order and stopped there. Sorting is off while it is
 *   planned: a read of every PENDING session through any other index and a sort of them is
 *   then never the plan, whatever the statistics say. PL/pgSQL, whose statement's plan a
 *   connection keeps (a SQL function's is made again at every call).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX sessions_pending_later_idx ON sessions (scaling_group, starts_at)
      WHERE status = 'PENDING' AND starts_at IS NOT NULL`,
  );
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_starts_idx');
  await knex.raw(
    `CREATE INDEX sessions_owner_active_idx ON sessions (access_key)
      WHERE status IN ${ACTIVE} AND array_size IS NULL`,
  );
  await knex.raw(`CREATE INDEX sessions_preparing_idx ON sessions (updated_at) WHERE status IN ${PREPARING}`);
  await knex.raw(`
    CREATE FUNCTION pending_queue_head(grp text, n int) RETURNS SETOF uuid
      LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
    BEGIN
      RETURN QUERY SELECT s.id FROM sessions s
         WHERE s.scaling_group = $1 AND s.status = 'PENDING' AND s.array_size IS NULL
         ORDER BY s.priority DESC, s.created_at, s.array_index, s.id
         LIMIT $2;
    END $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION IF EXISTS pending_queue_head(text, int)');
  await knex.raw('DROP INDEX IF EXISTS sessions_owner_active_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_preparing_idx');
  await knex.raw(
    `CREATE INDEX sessions_pending_starts_idx ON sessions (scaling_group, starts_at) WHERE status = 'PENDING'`,
  );
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_later_idx');
}
