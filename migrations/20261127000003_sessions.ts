import type { Knex } from 'knex';

/** Sessions, their kernels (containers) and the dependencies between sessions. */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sessions', (t) => {
    t.uuid('id').primary();
    t.string('name', 64).notNullable();
    t.string('access_key', 64).notNullable().references('keypairs.access_key').onUpdate('CASCADE');
    t.string('domain_name', 64).notNullable();
    t.string('group_name', 64).notNullable().defaultTo('default');
    t.string('scaling_group', 64).notNullable();
    t.string('type', 16).notNullable().comment('batch | interactive');
    t.string('status', 16).notNullable();
    t.string('status_info', 128).nullable().comment('short reason of the last transition');
    t.jsonb('status_data')
      .notNullable()
      .defaultTo('{}')
      .comment('structured detail: failed predicates, exit code, error');
    t.jsonb('status_history').notNullable().defaultTo('{}').comment('status -> ISO time it was entered');
    t.string('result', 16).notNullable().defaultTo('UNDEFINED');
    t.integer('exit_code').nullable().comment('main kernel exit code; -2 on batch timeout');
    t.string('image', 512).notNullable().comment('canonical reference');
    t.string('requested_image', 512).notNullable();
    t.text('startup_command').nullable();
    t.text('bootstrap_script').nullable();
    t.jsonb('environ').notNullable().defaultTo('{}');
    t.jsonb('mounts').notNullable().defaultTo('[]').comment('[{name, target, readOnly}]');
    t.jsonb('requested_slots').notNullable().defaultTo('{}').comment('per kernel');
    t.jsonb('resource_opts').notNullable().defaultTo('{}');
    t.integer('cluster_size').notNullable().defaultTo(1);
    t.string('cluster_mode', 16).notNullable().defaultTo('single-node');
    t.timestamp('starts_at', { useTz: true }).nullable().comment('requested start');
    t.timestamp('started_at', { useTz: true }).nullable().comment('actual start of the main container');
    t.timestamp('terminated_at', { useTz: true }).nullable();
    t.float('batch_timeout_sec').nullable();
    t.string('callback_url', 2048).nullable();
    t.integer('priority').notNullable().defaultTo(10);
    t.string('tag', 256).nullable();
    t.jsonb('retry_policy').nullable();
    t.integer('attempt').notNullable().defaultTo(1);
    t.jsonb('attempts').notNullable().defaultTo('[]').comment('history of earlier attempts');
    t.timestamp('retry_after', { useTz: true }).nullable();
    t.string('agent_id', 128).nullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['scaling_group', 'status', 'priority', 'created_at'], 'sessions_dispatch_idx');
    t.index(['access_key', 'name'], 'sessions_owner_name_idx');
    t.index(['status'], 'sessions_status_idx');
    t.index(['agent_id'], 'sessions_agent_idx');
  });
  // Get-or-create by name: at most one live session per owner and name, even under races.
  await knex.raw(
    `CREATE UNIQUE INDEX sessions_live_name_uq ON sessions (access_key, name) WHERE status NOT IN ('TERMINATED', 'CANCELLED')`,
  );
  await knex.schema.createTable('kernels', (t) => {
    t.uuid('id').primary();
    t.uuid('session_id').notNullable().references('sessions.id').onDelete('CASCADE');
    t.string('cluster_role', 16).notNullable().defaultTo('main');
    t.integer('cluster_idx').notNullable().defaultTo(1);
    t.string('cluster_hostname', 64).notNullable().defaultTo('main1');
    t.string('agent_id', 128).nullable();
    t.string('status', 16).notNullable();
    t.string('status_info', 128).nullable();
    t.jsonb('status_history').notNullable().defaultTo('{}');
    t.string('container_id', 128).nullable();
    t.integer('exit_code').nullable();
    t.jsonb('occupied_slots').notNullable().defaultTo('{}');
    t.text('logs').nullable().comment('bounded tail kept after the container is removed');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('started_at', { useTz: true }).nullable();
    t.timestamp('terminated_at', { useTz: true }).nullable();
    t.index(['session_id'], 'kernels_session_idx');
    t.index(['agent_id', 'status'], 'kernels_agent_status_idx');
  });
  await knex.schema.createTable('session_dependencies', (t) => {
    t.uuid('session_id').notNullable().references('sessions.id').onDelete('CASCADE');
    t.uuid('depends_on').notNullable().references('sessions.id').onDelete('CASCADE');
    t.primary(['session_id', 'depends_on']);
    t.index(['depends_on'], 'session_dependencies_on_idx');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('session_dependencies');
  await knex.schema.dropTable('kernels');
  await knex.schema.dropTable('sessions');
}
