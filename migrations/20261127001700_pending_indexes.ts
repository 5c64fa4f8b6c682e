import type { Knex } from 'knex';

/**
 * Indexes for the dispatcher's pass, so its cost does not grow with the number of sessions
 * waiting for a later starts_at: the PENDING sessions of a group by starts_at (which are due
 * within the lead window, and when the next one is), and the PENDING sessions that have no
 * predicates recorded yet (the only ones whose reason must still be written).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX sessions_pending_starts_idx ON sessions (scaling_group, starts_at) WHERE status = 'PENDING'`,
  );
  await knex.raw(
    `CREATE INDEX sessions_pending_unexplained_idx ON sessions (scaling_group) WHERE status = 'PENDING' AND (status_data -> 'predicates') IS NULL`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_unexplained_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_starts_idx');
}
