import type { Knex } from 'knex';

/**
 * Idempotency keys of `POST /session` (issue 15): a key a client sent, per owner keypair, with
 * the hash of the request it came with and the session it created. The primary key makes two
 * concurrent requests with one key create one session: the row is inserted in the transaction
 * that inserts the session, before it, so the second insert waits for the first to commit. The
 * foreign key to the session is checked at commit (the session row comes after the key row).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('idempotency_keys', (t) => {
    t.string('access_key', 64)
      .notNullable()
      .references('keypairs.access_key')
      .onUpdate('CASCADE')
      .onDelete('CASCADE')
      .comment('the owner keypair of the session: a key is scoped to it');
    t.string('key', 255).notNullable().comment('the Idempotency-Key header or idempotencyKey field');
    t.string('request_hash', 64)
      .notNullable()
      .comment('sha256 of the canonical request body without the key (src/domain/idempotency.ts)');
    t.uuid('session_id').notNullable().comment('the session the first request with this key created');
    t.timestamp('created_at', { useTz: true })
      .notNullable()
      .defaultTo(knex.fn.now())
      .comment('when the key was first used; older than the retention it counts as absent');
    t.primary(['access_key', 'key'], { constraintName: 'idempotency_keys_pkey' });
    t.foreign('session_id', 'idempotency_keys_session_fk')
      .references('sessions.id')
      .onDelete('CASCADE')
      .deferrable('deferred');
    t.index(['created_at'], 'idempotency_keys_created_idx');
    t.index(['session_id'], 'idempotency_keys_session_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('idempotency_keys');
}
