import type { Knex } from 'knex';

/**
 * The durable event log behind the SSE stream (its id is the SSE event id, so a client resumes
 * with Last-Event-ID) and the callback_url delivery queue (in order per session, retried).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('session_events', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('session_id').notNullable().references('sessions.id').onDelete('CASCADE');
    t.uuid('kernel_id').nullable();
    t.string('access_key', 64).notNullable();
    t.string('name', 64).notNullable().comment('Backend.AI event name, e.g. session_started');
    t.jsonb('data').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['session_id', 'id'], 'session_events_session_idx');
  });
  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('session_id').notNullable().references('sessions.id').onDelete('CASCADE');
    t.string('url', 2048).notNullable();
    t.text('body').notNullable();
    t.string('access_key', 64).notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('delivered_at', { useTz: true }).nullable();
    t.timestamp('gave_up_at', { useTz: true }).nullable();
    t.string('last_error', 512).nullable();
    t.index(['delivered_at', 'gave_up_at', 'next_attempt_at'], 'webhook_deliveries_due_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_deliveries');
  await knex.schema.dropTable('session_events');
}
