import type { Knex } from 'knex';

/**
 * Storage folders with owners (Backend.AI's vfolders): a folder belongs to a keypair or to a
 * group of a domain and is stored under its owner's namespace on every agent; shares give
 * other keypairs ro or rw; group members use their group's folders.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('group_members', (t) => {
    t.string('domain_name', 64).notNullable().references('domains.name').onUpdate('CASCADE');
    t.string('group_name', 64).notNullable();
    t.string('access_key', 64)
      .notNullable()
      .references('keypairs.access_key')
      .onUpdate('CASCADE')
      .onDelete('CASCADE');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['domain_name', 'group_name', 'access_key']);
    t.index(['access_key'], 'group_members_access_key_idx');
  });
  await knex.schema.createTable('storage_folders', (t) => {
    t.uuid('id').primary();
    t.string('name', 128).notNullable().comment('unique per owner; the name used in config.mounts');
    t.string('owner_access_key', 64)
      .nullable()
      .references('keypairs.access_key')
      .onUpdate('CASCADE')
      .onDelete('CASCADE')
      .comment('the owning keypair; null for a group folder');
    t.string('domain_name', 64).notNullable();
    t.string('group_name', 64)
      .nullable()
      .comment('the owning group of domain_name; null for a keypair folder');
    t.string('storage_path', 256)
      .notNullable()
      .comment('relative to an agent storage root: <owner namespace>/<name>');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.raw(
    `ALTER TABLE storage_folders ADD CONSTRAINT storage_folders_one_owner_ck CHECK ((owner_access_key IS NULL) <> (group_name IS NULL))`,
  );
  await knex.raw(
    `CREATE UNIQUE INDEX storage_folders_owner_name_uq ON storage_folders (owner_access_key, name) WHERE owner_access_key IS NOT NULL`,
  );
  await knex.raw(
    `CREATE UNIQUE INDEX storage_folders_group_name_uq ON storage_folders (domain_name, group_name, name) WHERE group_name IS NOT NULL`,
  );
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
  await knex.schema.dropTable('group_members');
}
