import type { Knex } from 'knex';

/**
 * The PENDING sessions of a scaling group in the queue's order (priority, then first come, an
 * array's index, the id): the dispatcher reads a page from the head of the queue by this
 * index and stops there, where it ranked the whole backlog on every pass
 * (src/persistence/runnable-scan.ts; docs/benchmarks.md, round twenty). Partial: a session
 * has an entry only while it is PENDING (array parents, which are never placed, have none).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    `CREATE INDEX sessions_pending_queue_idx ON sessions (scaling_group, priority DESC, created_at, array_index, id)
      WHERE status = 'PENDING' AND array_size IS NULL`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS sessions_pending_queue_idx');
}
