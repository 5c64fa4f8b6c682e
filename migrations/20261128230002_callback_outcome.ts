import type { Knex } from 'knex';

/**
 * A callback's outcome, so a session's callback history says why nothing arrived: refused
 * (an address inside the service's network), redirected (never followed), or given up.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_deliveries', (t) => {
    t.string('outcome', 16)
      .nullable()
      .comment('null while pending; delivered | refused | redirected | failed');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('webhook_deliveries', (t) => {
    t.dropColumn('outcome');
  });
}
