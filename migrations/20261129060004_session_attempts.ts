import type { Knex } from 'knex';

/**
 * Every ended attempt of a session, one row each: the attempts a retry policy tried again and
 * the one the session ended with. Written in the transaction that ends the attempt; the key
 * (session_id, attempt) makes a replayed report write nothing more. Sessions that ended or were
 * retried before this table existed are filled in from `sessions.attempts` and their final row.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('session_attempts', (t) => {
    t.uuid('session_id').notNullable().references('sessions.id').onDelete('CASCADE');
    t.integer('attempt').notNullable().comment('1 for the first run');
    t.string('agent_id', 128).nullable().comment('the agent the attempt was placed on');
    t.timestamp('started_at', { useTz: true }).nullable().comment('its main container started; null: never');
    t.timestamp('ended_at', { useTz: true }).notNullable();
    t.integer('exit_code').nullable().comment('main kernel exit code; null when it did not exit');
    t.string('result', 16).notNullable().comment('SUCCESS | FAILURE | UNDEFINED');
    t.string('reason', 128).nullable().comment('why it ended: task-failed, agent-lost, user-requested…');
    t.primary(['session_id', 'attempt'], { constraintName: 'session_attempts_pkey' });
  });
  await knex.raw(`
    INSERT INTO session_attempts (session_id, attempt, agent_id, ended_at, exit_code, result, reason)
    SELECT s.id, (a->>'attempt')::int, a->>'agentId', (a->>'endedAt')::timestamptz,
           (a->>'exitCode')::int, 'FAILURE', a->>'reason'
      FROM sessions s, jsonb_array_elements(s.attempts) a
    ON CONFLICT DO NOTHING`);
  await knex.raw(`
    INSERT INTO session_attempts (session_id, attempt, agent_id, started_at, ended_at, exit_code, result, reason)
    SELECT id, attempt, agent_id, started_at, COALESCE(terminated_at, updated_at), exit_code, result, status_info
      FROM sessions
     WHERE status IN ('TERMINATED', 'CANCELLED') AND agent_id IS NOT NULL
    ON CONFLICT DO NOTHING`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('session_attempts');
}
