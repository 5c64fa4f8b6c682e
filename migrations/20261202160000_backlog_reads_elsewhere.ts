import type { Knex } from 'knex';

/** The statuses of a session on an agent (ACTIVE_STATUSES). */
const ACTIVE = `('SCHEDULED', 'PREPARING', 'PULLING', 'PREPARED', 'CREATING', 'RUNNING', 'TERMINATING')`;

/**
 * Two reads outside the dispatcher that read the backlog when the statistics had not seen it
 * (docs/benchmarks.md, round twenty-three).
 *
 * - sessions_agent_active_idx: an agent's sessions that are on it now. Each heartbeat unflags
 *   the agent's sessions a loss had flagged (FleetStore.markAlive); with statistics that had
 *   not seen the backlog, PostgreSQL read them by a whole scan of sessions_live_counts_idx,
 *   every PENDING session with them, and sessions_agent_idx holds the agent's whole history.
 * - sessions_pending_keypair_idx: a keypair's PENDING sessions, which admission counts against
 *   its policy's limit on every submit (AdmissionStore.facts); it read every PENDING session of
 *   every keypair through sessions_status_idx, and sessions_owner_status_idx is not smaller in
 *   the planner's eyes. Its predicate also says `domain_name IS NOT NULL` (true of every
 *   session: the column is NOT NULL), which admission's count states and the reads of
 *   pending_open_heads (migration 20261202150000) do not: those walk one group's keypairs in
 *   order and must do it on sessions_pending_owner_idx; on this index (all groups' PENDING
 *   sessions in keypair order) a plan was taken that walks the other groups' too. A hash
 *   index, which gives no order, was not taken for admission's count either.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX sessions_agent_active_idx ON sessions (agent_id) WHERE status IN ${ACTIVE}`);
  await knex.raw(
    `CREATE INDEX sessions_pending_keypair_idx ON sessions (access_key)
      WHERE status = 'PENDING' AND domain_name IS NOT NULL`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_keypair_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_agent_active_idx');
}
