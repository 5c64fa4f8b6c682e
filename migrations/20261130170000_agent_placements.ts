import type { Knex } from 'knex';

/**
 * agents.placements: how many placements have committed on the agent. A placement reads it
 * with the agent's slots and what its kernels hold, decides, and commits only if it is still
 * the same (and bumps it), in one statement: two managers cannot both place on what they read
 * (docs/scheduling.md, "Placement").
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('agents', (t) => {
    t.bigInteger('placements')
      .notNullable()
      .defaultTo(0)
      .comment('placements committed on the agent: the guard of the next one');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('agents', (t) => {
    t.dropColumn('placements');
  });
}
