import type { Knex } from 'knex';

/** The statuses in which a dependency has ended for its dependents (DEPENDENCY_ENDED_STATUSES). */
const ENDED = `('TERMINATED', 'CANCELLED', 'ERROR')`;
/**
 * What the queue's indexes and heads hold: PENDING, not an array's parent, not due after the
 * survey's horizon, and no dependency or every dependency met (as the survey found them).
 */
const QUEUED = `status = 'PENDING' AND array_size IS NULL AND NOT due_later AND (NOT has_dependencies OR deps_met)`;

/**
 * The queue holds the sessions that can run but for capacity; those waiting for a dependency
 * or for a time after the dispatcher's horizon cost a pass nothing. A CI fan-out of thousands
 * waiting on its build job, or due tomorrow, at a higher priority than the rest, filled the
 * head of its group's queue; every pass then read the whole queue, and the survey checked every
 * dependent's every dependency: 29× (dependents) and 3.9× (due tomorrow) PostgreSQL's CPU a
 * drained session with 5,000 of them waiting (docs/benchmarks.md, round twenty-four). What a
 * dependent waits for changes only when one of its dependencies ends, and a session due later
 * only when its time comes: the survey looks at each then.
 *
 * - `due_later`: the survey found the session's starts_at after its horizon (when it wrote its
 *   first predicates: those waiting now are flagged here); a survey clears it once its horizon
 *   reaches it (the dispatcher's timer is armed for the first starts_at).
 * - `deps_blocked`: the survey found the session waiting on a dependency that has not ended
 *   (its predicates say which); `deps_met`: it found every dependency met. Set by the survey
 *   only (scheduler-sql.ts, `deps` and `met`), and only if `deps_epoch` is still the one it
 *   read: a dependency that ended meanwhile bumped it. A dependent neither blocked nor met is
 *   examined by the next pass (sessions_pending_examined_idx holds it).
 * - `deps_epoch`: bumped, and both flags cleared, on each PENDING dependent of a session when
 *   that session ends (trigger sessions_dependents_wake; `has_dependents` keeps it off every
 *   other session's end) or when a dependency row goes (session_dependencies_gone). The
 *   dependents are locked in the order of their ids (the wake's sub-select), so two ends never
 *   deadlock on them.
 * - The trigger on a dependency row's insert (session_dependencies_mark) takes a share lock on
 *   the sessions depended on before it marks them `has_dependents`. A dependency ending at the
 *   same time either ends first (the insert then waits for it, and the survey sees it ended) or
 *   waits for the insert to commit (its trigger then sees the new dependent): never neither.
 * - The queue's indexes and heads (sessions_pending_queue_idx, sessions_pending_owner_idx,
 *   pending_queue_head, pending_open_heads) leave out the sessions due later and those with a
 *   dependency not found met: the runnable scan checks no dependency.
 * - The survey's reads each have an index of their own sessions: those without predicates (as
 *   before), those due later, those in a retry backoff, the dependents to examine; the index of
 *   all those kinds together (sessions_pending_unusual_idx) goes, as the planner read every
 *   part of the survey through it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE sessions
    ADD COLUMN has_dependents boolean NOT NULL DEFAULT false,
    ADD COLUMN deps_epoch integer NOT NULL DEFAULT 0,
    ADD COLUMN deps_blocked boolean NOT NULL DEFAULT false,
    ADD COLUMN deps_met boolean NOT NULL DEFAULT false,
    ADD COLUMN due_later boolean NOT NULL DEFAULT false`);
  await knex.raw(
    `UPDATE sessions SET has_dependents = true WHERE id IN (SELECT depends_on FROM session_dependencies)`,
  );
  // A pass clears it again on those due within its horizon.
  await knex.raw(`UPDATE sessions SET due_later = true WHERE status = 'PENDING' AND starts_at > now()`);
  await knex.raw(`
    CREATE OR REPLACE FUNCTION session_dependencies_mark() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM 1 FROM sessions p WHERE p.id IN (SELECT depends_on FROM added) ORDER BY p.id FOR SHARE;
      UPDATE sessions p SET has_dependents = true
       WHERE p.id IN (SELECT depends_on FROM added) AND NOT p.has_dependents;
      UPDATE sessions s SET has_dependencies = true
        FROM (SELECT DISTINCT session_id FROM added) a
       WHERE s.id = a.session_id AND NOT s.has_dependencies;
      RETURN NULL;
    END $$`);
  await knex.raw(`
    CREATE FUNCTION sessions_dependents_wake() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE sessions s SET deps_epoch = s.deps_epoch + 1, deps_blocked = false, deps_met = false
        FROM (SELECT x.id FROM sessions x
               WHERE x.id IN (SELECT d.session_id FROM session_dependencies d WHERE d.depends_on = NEW.id)
                 AND x.status = 'PENDING'
               ORDER BY x.id FOR NO KEY UPDATE) l
       WHERE s.id = l.id;
      RETURN NULL;
    END $$`);
  await knex.raw(`
    CREATE TRIGGER sessions_dependents_wake AFTER UPDATE OF status ON sessions FOR EACH ROW
      WHEN (NEW.has_dependents AND NEW.status IN ${ENDED} AND OLD.status NOT IN ${ENDED})
      EXECUTE FUNCTION sessions_dependents_wake()`);
  await knex.raw(`
    CREATE FUNCTION session_dependencies_gone() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE sessions s SET deps_epoch = s.deps_epoch + 1, deps_blocked = false, deps_met = false
       WHERE s.id IN (SELECT session_id FROM gone) AND s.status = 'PENDING';
      RETURN NULL;
    END $$`);
  await knex.raw(`
    CREATE TRIGGER session_dependencies_gone AFTER DELETE ON session_dependencies
      REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION session_dependencies_gone()`);

  await queueIndexes(knex, QUEUED);
  // What the glance asks about and the survey reads, each kind from an index of its own sessions
  // alone (scheduler-sql.ts, ANY_PENDING_UNUSUAL).
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_unusual_idx');
  // Every session by status (and by group and status): with statistics that have not seen the
  // sessions waiting, any read of PENDING sessions looked as cheap through these as through the
  // index of the few it wants. Each reader of PENDING sessions has an index of its own, and the
  // live ones are counted from sessions_live_counts_idx.
  await knex.raw('DROP INDEX IF EXISTS sessions_status_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_dispatch_idx');
  // With a starts_at: those not flagged (sessions_pending_later_idx, until now all of them: it
  // was the plan for the survey's first write of predicates, which then read them all) and
  // those flagged.
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_later_idx');
  await knex.raw(
    `CREATE INDEX sessions_pending_later_idx ON sessions (scaling_group, starts_at)
      WHERE status = 'PENDING' AND starts_at IS NOT NULL AND NOT due_later`,
  );
  await knex.raw(
    `CREATE INDEX sessions_pending_due_later_idx ON sessions (scaling_group, starts_at) WHERE status = 'PENDING' AND due_later`,
  );
  await knex.raw(
    `CREATE INDEX sessions_pending_backoff_idx ON sessions (scaling_group, retry_after)
      WHERE status = 'PENDING' AND retry_after IS NOT NULL`,
  );
  await knex.raw(
    `CREATE INDEX sessions_pending_examined_idx ON sessions (scaling_group)
      WHERE status = 'PENDING' AND has_dependencies AND NOT deps_blocked AND NOT deps_met`,
  );
  await heads(
    knex,
    `s.status = 'PENDING' AND s.array_size IS NULL AND NOT s.due_later AND (NOT s.has_dependencies OR s.deps_met)`,
  );
  // The first starts_at of a group after an instant, from the first entry of each index of them:
  // sorting off, as in pending_queue_head, so that no plan reads them all to find the first.
  await knex.raw(`
    CREATE FUNCTION pending_later_at(grp text, after timestamptz) RETURNS timestamptz
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
       WHERE s.scaling_group = grp AND s.status = 'PENDING' AND s.due_later AND s.starts_at > after
       ORDER BY s.starts_at LIMIT 1;
      RETURN LEAST(a, b);
    END $$`);
}

/**
 * sessions_pending_queue_idx and sessions_pending_owner_idx (migrations 20261202050000 and
 * 20261202150000) as they were, made again over the sessions of `queued`.
 */
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
 * pending_queue_head and pending_open_heads (migrations 20261202120000 and 20261202150000) as
 * they were, their sessions those of `queued` (s: the sessions row).
 */
async function heads(knex: Knex, queued: string): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION pending_queue_head(grp text, n int) RETURNS SETOF uuid
      LANGUAGE plpgsql STABLE SET enable_sort = off AS $$
    BEGIN
      RETURN QUERY SELECT s.id FROM sessions s
         WHERE s.scaling_group = $1 AND ${queued}
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
       WHERE s.scaling_group = $1 AND ${queued}
       ORDER BY s.access_key LIMIT 1;
      WHILE kp IS NOT NULL LOOP
        SELECT p.max_concurrent_sessions INTO lim
          FROM keypairs k JOIN keypair_resource_policies p ON p.name = k.resource_policy
         WHERE k.access_key = kp;
        IF lim IS NULL OR lim > (SELECT count(*) FROM (
              SELECT 1 FROM sessions a
               WHERE a.access_key = kp
                 AND a.status IN ('SCHEDULED', 'PREPARING', 'PULLING', 'PREPARED', 'CREATING', 'RUNNING', 'TERMINATING')
                 AND a.array_size IS NULL
               LIMIT lim) c) THEN
          RETURN QUERY SELECT s.id, s.priority, s.created_at, s.array_index FROM sessions s
             WHERE s.scaling_group = $1 AND s.access_key = kp AND ${queued}
             ORDER BY s.access_key, s.priority DESC, s.created_at, s.array_index, s.id
             LIMIT $2;
        END IF;
        kp := (SELECT s.access_key FROM sessions s
                WHERE s.scaling_group = $1 AND s.access_key > kp AND ${queued}
                ORDER BY s.access_key LIMIT 1);
      END LOOP;
    END $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION IF EXISTS pending_later_at(text, timestamptz)');
  await heads(knex, `s.status = 'PENDING' AND s.array_size IS NULL`);
  for (const index of ['due_later', 'backoff', 'examined', 'later'])
    await knex.raw(`DROP INDEX IF EXISTS sessions_pending_${index}_idx`);
  await knex.raw(
    `CREATE INDEX sessions_pending_later_idx ON sessions (scaling_group, starts_at)
      WHERE status = 'PENDING' AND starts_at IS NOT NULL`,
  );
  await knex.raw('CREATE INDEX sessions_status_idx ON sessions (status)');
  await knex.raw(
    'CREATE INDEX sessions_dispatch_idx ON sessions (scaling_group, status, priority, created_at)',
  );
  await knex.raw(
    `CREATE INDEX sessions_pending_unusual_idx ON sessions (scaling_group)
      WHERE status = 'PENDING'
        AND (starts_at IS NOT NULL OR retry_after IS NOT NULL OR start_deadline_seconds IS NOT NULL OR has_dependencies)`,
  );
  await queueIndexes(knex, `status = 'PENDING' AND array_size IS NULL`);
  await knex.raw('DROP TRIGGER IF EXISTS session_dependencies_gone ON session_dependencies');
  await knex.raw('DROP FUNCTION IF EXISTS session_dependencies_gone()');
  await knex.raw('DROP TRIGGER IF EXISTS sessions_dependents_wake ON sessions');
  await knex.raw('DROP FUNCTION IF EXISTS sessions_dependents_wake()');
  await knex.raw(`
    CREATE OR REPLACE FUNCTION session_dependencies_mark() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE sessions s SET has_dependencies = true
        FROM (SELECT DISTINCT session_id FROM added) a
       WHERE s.id = a.session_id AND NOT s.has_dependencies;
      RETURN NULL;
    END $$`);
  await knex.raw(
    `ALTER TABLE sessions DROP COLUMN due_later, DROP COLUMN deps_met, DROP COLUMN deps_blocked,
       DROP COLUMN deps_epoch, DROP COLUMN has_dependents`,
  );
}
