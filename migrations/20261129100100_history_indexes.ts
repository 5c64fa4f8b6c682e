import type { Knex } from 'knex';

/**
 * History must not slow the present: every query on the hot path reads an index however many
 * ended sessions and events the tables hold, and the metrics scrape's counts do not read the
 * ended sessions at all.
 *
 * - session_events by keypair and id: a stream's replay (Last-Event-ID) of one keypair.
 * - sessions by owner / domain / everything, newest first: `GET /sessions`' default order.
 * - sessions by owner and status: the dispatcher's room per keypair (its active sessions) and a
 *   keypair's pending count, without reading the keypair's ended ones.
 * - the ended sessions by when they ended: what the history pruner deletes first.
 * - the live sessions by group, status and result: the scrape counts them from this index.
 * - kernels by status: the slots the active kernels hold (the scrape, per agent).
 * - webhook_deliveries by session: a session's deliveries, and the pruner's cascade.
 * - session_end_counts: the ended sessions counted by group, status and result, kept by a
 *   trigger on sessions (one upsert when a session ends or is deleted), in 8 shards per group so
 *   that sessions ending at the same moment do not queue on one counter row.
 */
const ENDED = `('TERMINATED', 'CANCELLED')`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX session_events_keypair_idx ON session_events (access_key, id)`);
  await knex.raw(`CREATE INDEX sessions_owner_created_idx ON sessions (access_key, created_at)`);
  await knex.raw(`CREATE INDEX sessions_owner_status_idx ON sessions (access_key, status)`);
  await knex.raw(`CREATE INDEX sessions_domain_created_idx ON sessions (domain_name, created_at)`);
  await knex.raw(`CREATE INDEX sessions_created_idx ON sessions (created_at)`);
  await knex.raw(
    `CREATE INDEX sessions_ended_idx ON sessions (terminated_at)
      WHERE status IN ${ENDED} AND array_parent_id IS NULL`,
  );
  await knex.raw(
    `CREATE INDEX sessions_live_counts_idx ON sessions (scaling_group, status, result, created_at)
      WHERE status NOT IN ${ENDED}`,
  );
  await knex.raw(`CREATE INDEX kernels_status_idx ON kernels (status, agent_id)`);
  await knex.raw(`CREATE INDEX webhook_deliveries_session_idx ON webhook_deliveries (session_id)`);

  await knex.schema.createTable('session_end_counts', (t) => {
    t.string('scaling_group', 64).notNullable();
    t.string('status', 16).notNullable().comment('TERMINATED | CANCELLED');
    t.string('result', 16).notNullable();
    t.smallint('shard').notNullable().comment('0-7, from the session id: spreads concurrent ends');
    t.bigInteger('n').notNullable().defaultTo(0).comment('ended sessions of this shard (may be 0)');
    t.primary(['scaling_group', 'status', 'result', 'shard'], { constraintName: 'session_end_counts_pkey' });
  });
  await knex.raw(
    `COMMENT ON TABLE session_end_counts IS 'ended sessions counted for GET /metrics; kept by trigger'`,
  );
  await knex.raw(`
    CREATE FUNCTION session_end_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status IN ${ENDED} THEN
        INSERT INTO session_end_counts AS c (scaling_group, status, result, shard, n)
        VALUES (OLD.scaling_group, OLD.status, OLD.result, hashtext(OLD.id::text) & 7, -1)
        ON CONFLICT (scaling_group, status, result, shard) DO UPDATE SET n = c.n - 1;
      END IF;
      IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status IN ${ENDED} THEN
        INSERT INTO session_end_counts AS c (scaling_group, status, result, shard, n)
        VALUES (NEW.scaling_group, NEW.status, NEW.result, hashtext(NEW.id::text) & 7, 1)
        ON CONFLICT (scaling_group, status, result, shard) DO UPDATE SET n = c.n + 1;
      END IF;
      RETURN NULL;
    END $$`);
  await knex.raw(`
    CREATE TRIGGER sessions_end_counts_ins AFTER INSERT ON sessions FOR EACH ROW
      WHEN (NEW.status IN ${ENDED}) EXECUTE FUNCTION session_end_counts_track()`);
  await knex.raw(`
    CREATE TRIGGER sessions_end_counts_upd AFTER UPDATE OF status, result, scaling_group ON sessions
      FOR EACH ROW
      WHEN ((OLD.status IN ${ENDED} OR NEW.status IN ${ENDED})
        AND (OLD.status, OLD.result, OLD.scaling_group) IS DISTINCT FROM (NEW.status, NEW.result, NEW.scaling_group))
      EXECUTE FUNCTION session_end_counts_track()`);
  await knex.raw(`
    CREATE TRIGGER sessions_end_counts_del AFTER DELETE ON sessions FOR EACH ROW
      WHEN (OLD.status IN ${ENDED}) EXECUTE FUNCTION session_end_counts_track()`);
  await knex.raw(`
    CREATE FUNCTION session_end_counts_clear() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN DELETE FROM session_end_counts; RETURN NULL; END $$`);
  await knex.raw(`
    CREATE TRIGGER sessions_end_counts_truncate AFTER TRUNCATE ON sessions
      FOR EACH STATEMENT EXECUTE FUNCTION session_end_counts_clear()`);
  await knex.raw(`
    INSERT INTO session_end_counts (scaling_group, status, result, shard, n)
    SELECT scaling_group, status, result, hashtext(id::text) & 7, count(*)
      FROM sessions WHERE status IN ${ENDED}
     GROUP BY 1, 2, 3, 4`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP TRIGGER IF EXISTS sessions_end_counts_truncate ON sessions');
  await knex.raw('DROP TRIGGER IF EXISTS sessions_end_counts_del ON sessions');
  await knex.raw('DROP TRIGGER IF EXISTS sessions_end_counts_upd ON sessions');
  await knex.raw('DROP TRIGGER IF EXISTS sessions_end_counts_ins ON sessions');
  await knex.raw('DROP FUNCTION IF EXISTS session_end_counts_clear()');
  await knex.raw('DROP FUNCTION IF EXISTS session_end_counts_track()');
  await knex.schema.dropTableIfExists('session_end_counts');
  await knex.raw('DROP INDEX IF EXISTS webhook_deliveries_session_idx');
  await knex.raw('DROP INDEX IF EXISTS kernels_status_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_live_counts_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_ended_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_created_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_domain_created_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_owner_created_idx');
  await knex.raw('DROP INDEX IF EXISTS sessions_owner_status_idx');
  await knex.raw('DROP INDEX IF EXISTS session_events_keypair_idx');
}
