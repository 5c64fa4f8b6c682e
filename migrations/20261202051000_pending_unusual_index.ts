import type { Knex } from 'knex';

/**
 * What the dispatcher's glance asks on every pass — does any PENDING session have a starts_at,
 * a retry backoff, a start deadline or a dependency? — answered from an index of those sessions
 * alone, where it read every PENDING session (and probed session_dependencies for each):
 * sessions.has_dependencies says a session has dependency rows, kept by a trigger on their
 * insert whoever inserts them, so the question is a condition on the row
 * (src/persistence/scheduler-sql.ts, ANY_PENDING_UNUSUAL; docs/benchmarks.md, round twenty).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`ALTER TABLE sessions ADD COLUMN has_dependencies boolean NOT NULL DEFAULT false`);
  await knex.raw(
    `UPDATE sessions SET has_dependencies = true WHERE id IN (SELECT session_id FROM session_dependencies)`,
  );
  await knex.raw(`
    CREATE FUNCTION session_dependencies_mark() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE sessions s SET has_dependencies = true
        FROM (SELECT DISTINCT session_id FROM added) a
       WHERE s.id = a.session_id AND NOT s.has_dependencies;
      RETURN NULL;
    END $$`);
  await knex.raw(`
    CREATE TRIGGER session_dependencies_mark AFTER INSERT ON session_dependencies
      REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION session_dependencies_mark()`);
  await knex.raw(
    `CREATE INDEX sessions_pending_unusual_idx ON sessions (scaling_group)
      WHERE status = 'PENDING'
        AND (starts_at IS NOT NULL OR retry_after IS NOT NULL OR start_deadline_seconds IS NOT NULL OR has_dependencies)`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_unusual_idx');
  await knex.raw('DROP TRIGGER IF EXISTS session_dependencies_mark ON session_dependencies');
  await knex.raw('DROP FUNCTION IF EXISTS session_dependencies_mark()');
  await knex.raw('ALTER TABLE sessions DROP COLUMN IF EXISTS has_dependencies');
}
