import type { Knex } from 'knex';

/**
 * The X-Request-Id of the request that created a session (issue 17): carried in its run job, so
 * the agent's log lines about the session carry the id the manager's lines about its create do.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.string('request_id', 128)
      .nullable()
      .comment('X-Request-Id of the creating request (logs correlate on it); null: not created by a request');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('sessions', (t) => {
    t.dropColumn('request_id');
  });
}
