import type { Knex } from 'knex';

/**
 * Cron schedules (issue 16): one row a schedule with the next instant it fires at, one row of
 * `schedule_runs` per instant the ticker decided on. The unique key (schedule_id, scheduled_for)
 * is what makes an instant fire at most once whatever the managers, crashes or Redis do: the
 * ticker inserts the run row, the session and the schedule's next instant in one transaction.
 * Sessions a schedule created name it and their instant (the list filters by schedule_name).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('schedules', (t) => {
    t.uuid('id').primary({ constraintName: 'schedules_pkey' });
    t.string('name', 64).notNullable();
    t.string('access_key', 64)
      .notNullable()
      .references('keypairs.access_key')
      .onDelete('CASCADE')
      .comment('the owner keypair: sessions are created as it');
    t.string('domain_name', 64).notNullable();
    t.text('cron').notNullable().comment('5 or 6 fields (seconds first), or @hourly/@daily…');
    t.string('timezone', 64).notNullable().defaultTo('UTC').comment('IANA zone the cron is read in');
    t.jsonb('session_body').nullable().comment('a POST /session create body (without name/starts_at/array)');
    t.jsonb('template').nullable().comment('{ template: id-or-name, overrides: {...} }');
    t.string('concurrency_policy', 16).notNullable().defaultTo('Allow').comment('Allow | Forbid | Replace');
    t.integer('starting_deadline_seconds').nullable().comment('null: no deadline');
    t.boolean('suspend').notNullable().defaultTo(false);
    t.integer('successful_history_limit').notNullable().defaultTo(3);
    t.integer('failed_history_limit').notNullable().defaultTo(1);
    t.timestamp('next_run_at', { useTz: true })
      .nullable()
      .comment('the next instant to decide on; null when suspended or none is left');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['access_key', 'name'], { indexName: 'schedules_owner_name_uq' });
  });
  await knex.raw(
    `CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE next_run_at IS NOT NULL AND NOT suspend`,
  );
  await knex.schema.createTable('schedule_runs', (t) => {
    t.bigIncrements('id').primary({ constraintName: 'schedule_runs_pkey' });
    t.uuid('schedule_id').notNullable().references('schedules.id').onDelete('CASCADE');
    t.timestamp('scheduled_for', { useTz: true }).notNullable().comment('the instant (or the trigger time)');
    t.string('outcome', 16)
      .notNullable()
      .comment('started | skipped | missed | triggered | failed (admission refused)');
    t.uuid('session_id').nullable().comment('the session it created; null when skipped/missed/failed');
    t.text('error').nullable().comment('why a run failed to be created');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['schedule_id', 'scheduled_for'], { indexName: 'schedule_runs_instant_uq' });
  });
  await knex.schema.alterTable('sessions', (t) => {
    t.uuid('schedule_id').nullable().comment('the schedule that created the session, if any');
    t.string('schedule_name', 64).nullable().comment('its name (kept when the schedule is deleted)');
    t.timestamp('scheduled_for', { useTz: true }).nullable().comment('the instant it was created for');
  });
  await knex.raw(
    `CREATE INDEX sessions_schedule_idx ON sessions (schedule_name, access_key) WHERE schedule_name IS NOT NULL`,
  );
  await knex.raw(
    `CREATE INDEX sessions_schedule_live_idx ON sessions (schedule_id, scheduled_for) WHERE schedule_id IS NOT NULL`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS sessions_schedule_live_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_schedule_idx');
  await knex.schema.alterTable('sessions', (t) => {
    t.dropColumn('scheduled_for');
    t.dropColumn('schedule_name');
    t.dropColumn('schedule_id');
  });
  await knex.schema.dropTable('schedule_runs');
  await knex.schema.dropTable('schedules');
}
