import type { Knex } from 'knex';

/** Row `t` (an alias, or '' for an index's predicate) is PENDING and not held by the survey's flags. */
const waits = (t: string) =>
  `${t}status = 'PENDING' AND NOT ${t}due_later AND (NOT ${t}has_dependencies OR ${t}deps_met)`;
/** What the queue held until now (migration 20261202180000). */
const queuedBefore = (t: string) => `${waits(t)} AND ${t}array_size IS NULL`;
/** What the queue's indexes and heads hold from here on: the same, without the arrays' children. */
const queued = (t: string) => `${queuedBefore(t)} AND ${t}array_parent_id IS NULL`;
/** The arrays' children that would be in the queue but for being children. */
const childQueued = (t: string) => `${waits(t)} AND ${t}array_parent_id IS NOT NULL`;
/** The statuses of a placed session that is not over (ACTIVE_STATUSES). */
const ACTIVE = `('SCHEDULED', 'PREPARING', 'PULLING', 'PREPARED', 'CREATING', 'RUNNING', 'TERMINATING')`;

/**
 * The arrays' children wait beside the queue, not in it. An array at its parallelism (a CI
 * fan-out of thousands, `0-4999%10`) filled the head of its group's queue with children that
 * cannot run until one of theirs ends: every pass then read the whole queue (5,000 children:
 * 10× PostgreSQL's CPU a drained session, docs/benchmarks.md, round twenty-five), and each
 * pass's settle step counted every open array's children.
 *
 * - The queue's indexes and heads (sessions_pending_queue_idx, sessions_pending_owner_idx,
 *   pending_queue_head, pending_open_heads) leave out the arrays' children.
 * - pending_array_heads(group, n, horizon, now): of each array of the group that is not over
 *   (its parent PENDING or RUNNING), its first children in the queue's order that are due (the
 *   runnable scan's own checks: starts_at within the horizon, no backoff left, not past a start
 *   deadline), as many as its parallelism leaves room for and at most `n`; `cut` marks one more
 *   when there are more than `n` within its room. Read through sessions_array_queue_idx in its
 *   order (sorting off, as in pending_queue_head), so an array reads its room, not its
 *   children. `n` of 2147483647 (the whole queue): every due child, room or not, so the
 *   whole read still writes the predicates of those past their array's room.
 * - array_active(parent): an array's children placed and not over, counted for its room from
 *   sessions_array_active_idx (sessions_agent_active_idx, of every agent's sessions, was the
 *   plan with statistics that had seen no array).
 * - array_parents_to_settle(): the settle step's read (ArrayStore.openParents). Whether any
 *   child is left, or PENDING, from sessions_array_open_idx (the children not over); whether one
 *   ran, from sessions_array_placed_idx (those ever placed: not PENDING, or PENDING again for a
 *   retry); the first failure only once none is left.
 */
export async function up(knex: Knex): Promise<void> {
  await queueIndexes(knex, queued(''));
  await heads(knex, queued('s.'));
  await knex.raw(
    `CREATE INDEX sessions_array_queue_idx
        ON sessions (array_parent_id, priority DESC, created_at, array_index, id)
      WHERE ${childQueued('')}`,
  );
  await knex.raw(
    `CREATE INDEX sessions_array_open_idx ON sessions (array_parent_id, status, id)
      WHERE array_parent_id IS NOT NULL AND status NOT IN ('TERMINATED', 'CANCELLED')`,
  );
  await knex.raw(
    `CREATE INDEX sessions_array_active_idx ON sessions (array_parent_id, id)
      WHERE array_parent_id IS NOT NULL AND status IN ${ACTIVE}`,
  );
  await knex.raw(
    `CREATE INDEX sessions_array_placed_idx ON sessions (array_parent_id, attempt)
      WHERE array_parent_id IS NOT NULL AND (status <> 'PENDING' OR attempt > 1)`,
  );
  // Each read below asks for an order that one index alone gives, with sorting off: the plan
  // is that index whatever the statistics say (with statistics that had seen no array, the
  // live sessions' index of the group or every agent's sessions were the plans, and read every
  // child). A sub-select's ORDER BY is kept by OFFSET 0 or LIMIT (an EXISTS drops it).
  await knex.raw(`
    CREATE FUNCTION array_active(parent uuid) RETURNS bigint
      LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
    BEGIN
      RETURN (SELECT count(*) FROM (SELECT 1 FROM sessions c
                                     WHERE c.array_parent_id = parent AND c.status IN ${ACTIVE}
                                     ORDER BY c.id OFFSET 0) x);
    END $$`);
  await knex.raw(`
    CREATE FUNCTION pending_array_heads(grp text, n int, horizon timestamptz, instant timestamptz)
      RETURNS TABLE (id uuid, cut boolean)
      LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
    DECLARE
      p record;
      room bigint;
      k bigint;
    BEGIN
      FOR p IN SELECT a.id, a.array_parallelism, a.scaling_group FROM sessions a
                WHERE a.array_size IS NOT NULL AND a.status IN ('PENDING', 'RUNNING')
                ORDER BY a.status
      LOOP
        CONTINUE WHEN p.scaling_group <> grp;
        room := CASE WHEN n >= 2147483647 OR p.array_parallelism IS NULL THEN 2147483647
                     ELSE p.array_parallelism - array_active(p.id) END;
        k := least(room, n);
        CONTINUE WHEN k <= 0;
        RETURN QUERY SELECT x.id, x.rn > k FROM (
          SELECT c.id, row_number() OVER (ORDER BY c.priority DESC, c.created_at, c.array_index, c.id) AS rn
            FROM sessions c
           WHERE c.array_parent_id = p.id AND ${childQueued('c.')}
             AND (c.starts_at IS NULL OR c.starts_at <= horizon)
             AND (c.retry_after IS NULL OR c.retry_after <= instant)
             AND NOT (c.attempt = 1 AND c.start_deadline_seconds IS NOT NULL
                      AND coalesce(c.starts_at, c.created_at) + make_interval(secs => c.start_deadline_seconds) <= instant)
           ORDER BY c.priority DESC, c.created_at, c.array_index, c.id
           LIMIT CASE WHEN k >= 2147483647 THEN NULL WHEN k < room THEN k + 1 ELSE k END) x;
      END LOOP;
    END $$`);
  // The settle step's read (ArrayStore.openParents says what it returns).
  const some = (where: string, order: string) =>
    `(SELECT true FROM sessions c WHERE c.array_parent_id = p.id AND ${where} ORDER BY ${order} LIMIT 1) IS NOT NULL`;
  await knex.raw(`
    CREATE FUNCTION array_parents_to_settle()
      RETURNS TABLE (parent_id uuid, parent_status text, open int, ran boolean,
                     failed_index int, failed_exit int, stray boolean)
      LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
    BEGIN
      RETURN QUERY
      SELECT o.id, o.status, o.open, o.ran, f.array_index, f.exit_code, o.stray
        FROM (SELECT p.id, p.status::text AS status,
                     (${some(`c.status NOT IN ('TERMINATED', 'CANCELLED')`, 'c.status, c.id')})::int AS open,
                     p.status = 'PENDING' AND ${some(
                       `(c.status <> 'PENDING' OR c.attempt > 1) AND (c.status_history -> 'RUNNING') IS NOT NULL`,
                       'c.attempt',
                     )} AS ran,
                     p.status = 'TERMINATING' AND ${some(`c.status = 'PENDING'`, 'c.id')} AS stray
                FROM sessions p
               WHERE p.array_size IS NOT NULL AND p.status IN ('PENDING', 'RUNNING', 'TERMINATING')
               ORDER BY p.status OFFSET 0) o
        LEFT JOIN LATERAL (
          SELECT c.array_index, c.exit_code FROM sessions c
           WHERE o.open = 0 AND c.array_parent_id = o.id AND c.status IN ('TERMINATED', 'CANCELLED')
             AND c.result <> 'SUCCESS'
           ORDER BY c.array_index LIMIT 1) f ON true
      UNION ALL
      SELECT e.id, e.status, 0, false, NULL::int, NULL::int, true
        FROM (SELECT p.id, p.status::text AS status, ${some(`c.status = 'PENDING'`, 'c.id')} AS stray
                FROM sessions p
               WHERE p.array_size IS NOT NULL AND p.status IN ('TERMINATED', 'CANCELLED')
               ORDER BY p.status OFFSET 0) e
       WHERE e.stray;
    END $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION IF EXISTS array_parents_to_settle()');
  await knex.raw('DROP FUNCTION IF EXISTS pending_array_heads(text, int, timestamptz, timestamptz)');
  await knex.raw('DROP FUNCTION IF EXISTS array_active(uuid)');
  await knex.raw('DROP INDEX IF EXISTS sessions_array_placed_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_array_active_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_array_open_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_array_queue_idx');
  await heads(knex, queuedBefore('s.'));
  await queueIndexes(knex, queuedBefore(''));
}

/** The queue's two indexes (as migration 20261202180000 made them), of the sessions `queued`. */
async function queueIndexes(knex: Knex, queued: string): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_queue_idx');
  await knex.raw(
    `CREATE INDEX sessions_pending_queue_idx ON sessions (scaling_group, priority DESC, created_at, array_index, id)
      WHERE ${queued}`,
  );
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_owner_idx');
  await knex.raw(
    `CREATE INDEX sessions_pending_owner_idx
        ON sessions (scaling_group, access_key, priority DESC, created_at, array_index, id)
      WHERE ${queued}`,
  );
}

/**
 * pending_queue_head and pending_open_heads (as migration 20261202180000 made them), of the
 * sessions `q` (over the sessions row `s`).
 */
async function heads(knex: Knex, q: string): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION pending_queue_head(grp text, n int) RETURNS SETOF uuid
      LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
    BEGIN
      RETURN QUERY SELECT s.id FROM sessions s
         WHERE s.scaling_group = $1 AND ${q}
         ORDER BY s.priority DESC, s.created_at, s.array_index, s.id
         LIMIT $2;
    END $$`);
  await knex.raw(`
    CREATE OR REPLACE FUNCTION pending_open_heads(grp text, n int)
      RETURNS TABLE (id uuid, priority integer, created_at timestamptz, array_index integer)
      LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
    DECLARE
      kp text;
      lim integer;
    BEGIN
      SELECT s.access_key INTO kp FROM sessions s
       WHERE s.scaling_group = $1 AND ${q}
       ORDER BY s.access_key LIMIT 1;
      WHILE kp IS NOT NULL LOOP
        SELECT p.max_concurrent_sessions INTO lim
          FROM keypairs k JOIN keypair_resource_policies p ON p.name = k.resource_policy
         WHERE k.access_key = kp;
        IF lim IS NULL OR lim > (SELECT count(*) FROM (
              SELECT 1 FROM sessions a
               WHERE a.access_key = kp
                 AND a.status IN ${ACTIVE}
                 AND a.array_size IS NULL
               LIMIT lim) c) THEN
          RETURN QUERY SELECT s.id, s.priority, s.created_at, s.array_index FROM sessions s
             WHERE s.scaling_group = $1 AND s.access_key = kp AND ${q}
             ORDER BY s.access_key, s.priority DESC, s.created_at, s.array_index, s.id
             LIMIT $2;
        END IF;
        kp := (SELECT s.access_key FROM sessions s
                WHERE s.scaling_group = $1 AND s.access_key > kp AND ${q}
                ORDER BY s.access_key LIMIT 1);
      END LOOP;
    END $$`);
}
