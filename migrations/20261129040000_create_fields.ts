import type { Knex } from 'knex';

/**
 * What a create request may ask that bai dropped before (issue 14):
 * - `agents.architecture`: what the agent runs (Backend.AI's names: x86_64, aarch64); existing
 *   rows get x86_64, as Backend.AI assumes for agents that do not say, until their next start;
 * - `sessions.architecture`: the architecture the request asked for (null: any agent);
 * - `keypairs.bootstrap_script`: run before a session's own when the request has none;
 * - `sgroups_for_domains` / `sgroups_for_keypairs`: who may use a scaling group. A scaling
 *   group listed in neither is open to everyone; one listed is open to those listed.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('agents', (t) => {
    t.string('architecture', 32)
      .notNullable()
      .defaultTo('x86_64')
      .comment('x86_64 | aarch64 | …, as the agent reported it at its start');
  });
  await knex.schema.alterTable('sessions', (t) => {
    t.string('architecture', 32).nullable().comment('asked by the request; null: any agent');
  });
  await knex.schema.alterTable('keypairs', (t) => {
    t.text('bootstrap_script')
      .nullable()
      .comment('run when a create request brings no bootstrap_script of its own');
  });
  await knex.schema.createTable('sgroups_for_domains', (t) => {
    t.string('scaling_group', 64)
      .notNullable()
      .references('scaling_groups.name')
      .onUpdate('CASCADE')
      .onDelete('CASCADE');
    t.string('domain_name', 64)
      .notNullable()
      .references('domains.name')
      .onUpdate('CASCADE')
      .onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['scaling_group', 'domain_name']);
  });
  await knex.schema.createTable('sgroups_for_keypairs', (t) => {
    t.string('scaling_group', 64)
      .notNullable()
      .references('scaling_groups.name')
      .onUpdate('CASCADE')
      .onDelete('CASCADE');
    t.string('access_key', 64)
      .notNullable()
      .references('keypairs.access_key')
      .onUpdate('CASCADE')
      .onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['scaling_group', 'access_key']);
    t.index(['access_key'], 'sgroups_for_keypairs_access_key_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('sgroups_for_keypairs');
  await knex.schema.dropTable('sgroups_for_domains');
  await knex.schema.alterTable('keypairs', (t) => t.dropColumn('bootstrap_script'));
  await knex.schema.alterTable('sessions', (t) => t.dropColumn('architecture'));
  await knex.schema.alterTable('agents', (t) => t.dropColumn('architecture'));
}
