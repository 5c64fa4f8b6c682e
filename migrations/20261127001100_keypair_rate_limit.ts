import type { Knex } from 'knex';

/**
 * A per-keypair request rate (Backend.AI's keypairs carry one too); null falls back to the
 * manager's BAI_RATE_LIMIT_PER_MINUTE. Tokens remember when they were last used, so an admin
 * can tell a forgotten one from a live one before revoking it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('keypairs', (t) => {
    t.integer('rate_limit').nullable().comment('requests per minute; null: the manager default');
  });
  await knex.schema.alterTable('api_tokens', (t) => {
    t.timestamp('last_used_at', { useTz: true }).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('api_tokens', (t) => {
    t.dropColumn('last_used_at');
  });
  await knex.schema.alterTable('keypairs', (t) => {
    t.dropColumn('rate_limit');
  });
}
