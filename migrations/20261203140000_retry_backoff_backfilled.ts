import type { Knex } from 'knex';

/**
 * The retries sent back to PENDING before migration 20261203120000 and still in their backoff
 * are flagged `due_later` here, with their `retry_backoff` predicate, as SessionStore's move back
 * to PENDING does since: every retry in its backoff is then out of the queue, and the survey's
 * `backoff` explainer, the glance's probe of retries in the queue and the index they read
 * (sessions_pending_backoff_idx) go. A retry whose backoff is over stays in the queue, where
 * the runnable scan checks its `retry_after` as before; it no longer makes the glance call the
 * survey on every pass while it waits for capacity (docs/benchmarks.md, round twenty-seven).
 *
 * The predicate is the one the domain's template writes (`retrying at` and the instant as
 * Date.toISOString writes it), spelt out here: a migration stays what it was when it ran.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    UPDATE sessions s SET due_later = true,
           status_data = s.status_data || jsonb_build_object('predicates', jsonb_build_array(
             jsonb_build_object('name', 'retry_backoff', 'msg', 'retrying at '
               || to_char(s.retry_after AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))))
     WHERE s.status = 'PENDING' AND s.retry_after IS NOT NULL AND NOT s.due_later
       AND s.retry_after > now()`);
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_backoff_idx');
}

/** The index comes back; flagged retries stay flagged (the code before this migration puts them back). */
export async function down(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX sessions_pending_backoff_idx ON sessions (scaling_group, retry_after)
      WHERE status = 'PENDING' AND retry_after IS NOT NULL AND NOT due_later`,
  );
}
