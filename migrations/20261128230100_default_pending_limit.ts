import type { Knex } from 'knex';

/**
 * A pending limit by default: a keypair with unlimited PENDING sessions could fill the
 * database and every dispatcher pass with sessions that cannot run. New policies default to
 * 1 000, and the seeded `default` policy gets that limit where it had none. An admin sets
 * another value (or null: unlimited) per policy through PATCH /resource-policies/{name}.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `ALTER TABLE keypair_resource_policies ALTER COLUMN max_pending_session_count SET DEFAULT 1000`,
  );
  await knex.raw(
    `COMMENT ON COLUMN keypair_resource_policies.max_pending_session_count IS 'null: unlimited; past it create answers quota-exceeded (default 1000)'`,
  );
  await knex('keypair_resource_policies')
    .where({ name: 'default' })
    .whereNull('max_pending_session_count')
    .update({ max_pending_session_count: 1000 });
}

export async function down(knex: Knex): Promise<void> {
  await knex('keypair_resource_policies')
    .where({ name: 'default', max_pending_session_count: 1000 })
    .update({ max_pending_session_count: null });
  await knex.raw(`ALTER TABLE keypair_resource_policies ALTER COLUMN max_pending_session_count DROP DEFAULT`);
  await knex.raw(
    `COMMENT ON COLUMN keypair_resource_policies.max_pending_session_count IS 'null: unlimited; past it create answers quota-exceeded'`,
  );
}
