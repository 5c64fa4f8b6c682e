import type { Knex } from 'knex';

/**
 * Array jobs (issue 15): one parent session and N children. The parent carries the array's
 * size and parallelism and has no kernels (it is never placed); each child names its parent
 * and its index. Children are found by parent (settle, cancel, info) through a partial index.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.integer('array_size').nullable().comment('parent of an array: how many children; null otherwise');
    t.integer('array_parallelism')
      .nullable()
      .comment('parent of an array: most children placed at once; null: unlimited');
    t.uuid('array_parent_id')
      .nullable()
      .references('sessions.id')
      .onDelete('CASCADE')
      .comment('child of an array: its parent');
    t.integer('array_index').nullable().comment('child of an array: its index (BAI_ARRAY_INDEX)');
  });
  await knex.raw(
    `CREATE UNIQUE INDEX sessions_array_child_uq ON sessions (array_parent_id, array_index) WHERE array_parent_id IS NOT NULL`,
  );
  await knex.raw(`CREATE INDEX sessions_array_parent_idx ON sessions (status) WHERE array_size IS NOT NULL`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX IF EXISTS sessions_array_parent_idx`);
  await knex.raw(`DROP INDEX IF EXISTS sessions_array_child_uq`);
  await knex.schema.alterTable('sessions', (t) => {
    t.dropColumn('array_index');
    t.dropColumn('array_parent_id');
    t.dropColumn('array_parallelism');
    t.dropColumn('array_size');
  });
}
