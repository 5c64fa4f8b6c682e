import type { Knex } from 'knex';

/**
 * What the stored output of a kernel leaves out: `kernels.logs` keeps only the tail of a long
 * output, and readers (GET /logs, `bai session logs -f`, `bai run`) must say so and know where
 * the tail starts.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('kernels', (t) => {
    t.boolean('logs_truncated')
      .notNullable()
      .defaultTo(false)
      .comment('the output was longer than the tail kept in logs');
    t.bigInteger('logs_bytes')
      .nullable()
      .comment('bytes the kernel printed in all, as the agent counted them');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('kernels', (t) => {
    t.dropColumn('logs_bytes');
    t.dropColumn('logs_truncated');
  });
}
