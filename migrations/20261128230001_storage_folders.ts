import type { Knex } from 'knex';

/**
 * Storage folders with owners (Backend.AI's vfolders): a folder belongs to a keypair and is
 * stored under that keypair's namespace on every agent; shares give other keypairs ro or rw.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('storage_folders', (t) => {
    t.uuid('id').primary();
    t.string('name', 128).notNullable().comment('unique per owner; the name used in config.mounts');
    t.string('owner_access_key', 64)
      .notNullable()
      .references('keypairs.access_key')
      .onUpdate('CASCADE')
      .onDelete('CASCADE');
    t.string('domain_name', 64).notNullable();
    t.string('storage_path', 256)
      .notNullable()
      .comment('relative to an agent storage root: <owner access key>/<name>');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['owner_access_key', 'name'], { indexName: 'storage_folders_owner_name_uq' });
  });
  await knex.schema.createTable('storage_folder_shares', (t) => {
    t.uuid('folder_id').notNullable().references('storage_folders.id').onDelete('CASCADE');
    t.string('access_key', 64)
      .notNullable()
      .references('keypairs.access_key')
      .onUpdate('CASCADE')
      .onDelete('CASCADE')
      .comment('the invited keypair');
    t.string('permission', 4).notNullable().comment('ro | rw');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['folder_id', 'access_key']);
    t.index(['access_key'], 'storage_folder_shares_invitee_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('storage_folder_shares');
  await knex.schema.dropTable('storage_folders');
}
