import type { Knex } from 'knex';

/**
 * Session templates (Backend.AI's task templates): a checked `taskTemplate` document owned by
 * a keypair, stored under a domain and group. Deleting one only deactivates it, as Backend.AI
 * does.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('session_templates', (t) => {
    t.uuid('id').primary();
    t.string('name', 128).notNullable().comment('metadata.name, or the name the payload gave');
    t.string('owner_access_key', 64)
      .notNullable()
      .references('keypairs.access_key')
      .onUpdate('CASCADE')
      .onDelete('CASCADE')
      .comment('the owning keypair; only it, admins of its domain and superadmins see the template');
    t.string('domain_name', 64)
      .notNullable()
      .comment('the domain sessions from it are created in by default');
    t.string('group_name', 64).nullable().comment('the group sessions from it are created in by default');
    t.jsonb('template')
      .notNullable()
      .comment('the checked taskTemplate document (src/domain/session-template.ts)');
    t.boolean('is_active').notNullable().defaultTo(true).comment('false once deleted');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).nullable().comment('the last PUT');
    t.index(['owner_access_key'], 'session_templates_owner_idx');
    t.index(['domain_name'], 'session_templates_domain_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('session_templates');
}
