import type { Knex } from 'knex';

/** Domains, keypair resource policies, keypairs and bearer tokens: who may do what. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('domains', (t) => {
    t.string('name', 64).primary();
    t.jsonb('allowed_registries')
      .notNullable()
      .defaultTo('[]')
      .comment('registry hostnames images may come from');
    t.jsonb('allowed_storage')
      .notNullable()
      .defaultTo('[]')
      .comment('storage folder names sessions may mount');
    t.boolean('is_active').notNullable().defaultTo(true);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('keypair_resource_policies', (t) => {
    t.string('name', 64).primary();
    t.integer('max_concurrent_sessions')
      .notNullable()
      .defaultTo(30)
      .comment('sessions past this wait PENDING');
    t.integer('max_pending_session_count')
      .nullable()
      .comment('null: unlimited; past it create answers quota-exceeded');
    t.integer('max_priority').notNullable().defaultTo(100);
    t.jsonb('total_resource_slots')
      .notNullable()
      .defaultTo('{}')
      .comment('per-session ceiling; {} is unlimited');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('keypairs', (t) => {
    t.string('access_key', 64).primary();
    t.string('secret_key', 128).notNullable();
    t.string('user_email', 256).notNullable();
    t.string('domain_name', 64).notNullable().references('domains.name').onUpdate('CASCADE');
    t.string('role', 16).notNullable().defaultTo('user').comment('user | admin (its domain) | superadmin');
    t.boolean('is_active').notNullable().defaultTo(true);
    t.string('resource_policy', 64)
      .notNullable()
      .references('keypair_resource_policies.name')
      .onUpdate('CASCADE');
    t.string('webhook_secret', 128).notNullable().comment('HMAC key of callback_url deliveries');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('api_tokens', (t) => {
    t.uuid('id').primary();
    t.string('access_key', 64).notNullable().references('keypairs.access_key').onDelete('CASCADE');
    t.string('name', 128).notNullable().defaultTo('');
    t.string('token_hash', 128)
      .notNullable()
      .unique({ indexName: 'api_tokens_hash_uq' })
      .comment('sha256 of the token');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('revoked_at', { useTz: true }).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('api_tokens');
  await knex.schema.dropTable('keypairs');
  await knex.schema.dropTable('keypair_resource_policies');
  await knex.schema.dropTable('domains');
}
