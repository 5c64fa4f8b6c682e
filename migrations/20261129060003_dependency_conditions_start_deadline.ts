import type { Knex } from 'knex';

/**
 * Issue 15, for CI pipelines:
 * - `session_dependencies.condition`: when a dependency lets its dependent run, as Slurm's
 *   afterok (the rule so far, the default for existing rows), afterany, afternotok;
 * - `sessions.start_deadline_seconds`: a first attempt not placed within this many seconds of
 *   its starts_at (or creation) is cancelled `start-deadline-exceeded`. The partial index keeps
 *   the dispatcher's look for them to the PENDING sessions that have a deadline.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('session_dependencies', (t) => {
    t.string('condition', 16)
      .notNullable()
      .defaultTo('afterok')
      .comment('afterok | afterany | afternotok: which end of the dependency lets the session run');
  });
  await knex.schema.alterTable('sessions', (t) => {
    t.integer('start_deadline_seconds')
      .nullable()
      .comment(
        'cancel the first attempt when not placed this long after starts_at (or creation); null: none',
      );
  });
  await knex.raw(
    `ALTER TABLE session_dependencies ADD CONSTRAINT session_dependencies_condition_ck
       CHECK (condition IN ('afterok', 'afterany', 'afternotok'))`,
  );
  await knex.raw(
    `ALTER TABLE sessions ADD CONSTRAINT sessions_start_deadline_ck CHECK (start_deadline_seconds > 0)`,
  );
  await knex.raw(
    `CREATE INDEX sessions_start_deadline_idx ON sessions (scaling_group)
      WHERE status = 'PENDING' AND start_deadline_seconds IS NOT NULL`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS sessions_start_deadline_idx');
  await knex.schema.alterTable('sessions', (t) => t.dropColumn('start_deadline_seconds'));
  await knex.schema.alterTable('session_dependencies', (t) => t.dropColumn('condition'));
}
