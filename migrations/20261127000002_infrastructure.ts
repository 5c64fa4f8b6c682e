import type { Knex } from 'knex';

/** Scaling groups, agents, container registries, images and their aliases. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('scaling_groups', (t) => {
    t.string('name', 64).primary();
    t.string('description', 512).notNullable().defaultTo('');
    t.boolean('is_active').notNullable().defaultTo(true);
    t.integer('pending_timeout_sec')
      .notNullable()
      .defaultTo(0)
      .comment('0: sessions may wait PENDING forever');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('agents', (t) => {
    t.string('id', 128).primary();
    t.string('scaling_group', 64).notNullable().references('scaling_groups.name').onUpdate('CASCADE');
    t.string('status', 16).notNullable().defaultTo('ALIVE').comment('ALIVE | LOST | TERMINATED');
    t.string('status_info', 128).nullable();
    t.jsonb('available_slots').notNullable().defaultTo('{}').comment('declared capacity');
    t.boolean('schedulable').notNullable().defaultTo(true);
    t.string('version', 32).notNullable().defaultTo('');
    t.string('addr', 256).notNullable().defaultTo('');
    t.timestamp('first_contact', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_heartbeat', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['scaling_group', 'status'], 'agents_group_status_idx');
  });
  await knex.schema.createTable('container_registries', (t) => {
    t.string('hostname', 256).primary().comment('as in image references, e.g. 127.0.0.1:5000');
    t.string('url', 512).notNullable();
    t.string('username', 256).nullable();
    t.string('password', 512).nullable().comment('write-only: never returned by any API');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('images', (t) => {
    t.string('name', 512).primary().comment('canonical reference, registry included');
    t.string('registry', 256).notNullable();
    t.jsonb('labels')
      .notNullable()
      .defaultTo('{}')
      .comment('ai.backend.* labels: runtime path, slot min/max');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('image_aliases', (t) => {
    t.string('alias', 256).primary();
    t.string('image', 512).notNullable().references('images.name').onDelete('CASCADE').onUpdate('CASCADE');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('image_aliases');
  await knex.schema.dropTable('images');
  await knex.schema.dropTable('container_registries');
  await knex.schema.dropTable('agents');
  await knex.schema.dropTable('scaling_groups');
}
