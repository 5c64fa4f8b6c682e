import type { Knex } from 'knex';

/** The statuses a keypair's sessions count against its concurrency limit in (ACTIVE_STATUSES). */
const ACTIVE = `('SCHEDULED', 'PREPARING', 'PULLING', 'PREPARED', 'CREATING', 'RUNNING', 'TERMINATING')`;

/**
 * A head of the queue that leaves out the keypairs at their concurrency limit. A CI fan-out
 * whose keypair's limit is used up fills the head of its group's queue with sessions that
 * cannot run; the page from the head then came up short, and every pass read and ranked the
 * whole backlog instead (80 ms of PostgreSQL a pass for 2,000 such sessions, docs/benchmarks.md,
 * round twenty-three).
 *
 * - sessions_pending_owner_idx: the PENDING sessions of a group by keypair, each keypair's in
 *   the queue's order (as sessions_pending_queue_idx holds the group's).
 * - pending_open_heads(group, n): for each keypair with PENDING sessions in the group (found by
 *   skipping through the index, a probe a keypair) that is below its limit, its first `n`
 *   PENDING sessions with their place in the queue. The first `n` of these in the queue's order
 *   are the first `n` of the group's queue without the keypairs at their limit: each keypair's
 *   first `n` hold every one of its sessions among them. A keypair's sessions that count against
 *   its limit are counted as the runnable scan counts them (sessions_owner_active_idx), and no
 *   further than the limit. Sorting is off while it is planned, as in pending_queue_head
 *   (migration 20261202120000), and each read asks for the order of sessions_pending_owner_idx
 *   (the keypair first, though there is one): no other index gives it, so no plan reads the
 *   group's queue past the other keypairs' sessions to find this one's, whatever the
 *   statistics say.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX sessions_pending_owner_idx
        ON sessions (scaling_group, access_key, priority DESC, created_at, array_index, id)
      WHERE status = 'PENDING' AND array_size IS NULL`,
  );
  await knex.raw(`
    CREATE FUNCTION pending_open_heads(grp text, n int)
      RETURNS TABLE (id uuid, priority integer, created_at timestamptz, array_index integer)
      LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
    DECLARE
      kp text;
      lim integer;
    BEGIN
      SELECT s.access_key INTO kp FROM sessions s
       WHERE s.scaling_group = $1 AND s.status = 'PENDING' AND s.array_size IS NULL
       ORDER BY s.access_key LIMIT 1;
      WHILE kp IS NOT NULL LOOP
        SELECT p.max_concurrent_sessions INTO lim
          FROM keypairs k JOIN keypair_resource_policies p ON p.name = k.resource_policy
         WHERE k.access_key = kp;
        IF lim IS NULL OR lim > (SELECT count(*) FROM (
              SELECT 1 FROM sessions a
               WHERE a.access_key = kp AND a.status IN ${ACTIVE} AND a.array_size IS NULL
               LIMIT lim) c) THEN
          RETURN QUERY SELECT s.id, s.priority, s.created_at, s.array_index FROM sessions s
             WHERE s.scaling_group = $1 AND s.access_key = kp AND s.status = 'PENDING'
               AND s.array_size IS NULL
             ORDER BY s.access_key, s.priority DESC, s.created_at, s.array_index, s.id
             LIMIT $2;
        END IF;
        kp := (SELECT s.access_key FROM sessions s
                WHERE s.scaling_group = $1 AND s.access_key > kp AND s.status = 'PENDING'
                  AND s.array_size IS NULL
                ORDER BY s.access_key LIMIT 1);
      END LOOP;
    END $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION IF EXISTS pending_open_heads(text, int)');
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_owner_idx');
}
