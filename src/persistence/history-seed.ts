import { newSecret } from './catalog-store.js';
import type { Db } from './db.js';
import { PYTHON_IMAGE } from '../stack/python-image.js';

/** The events each seeded session has, in id order (a batch session's usual life). */
const SEEDED_EVENTS = ['session_enqueued', 'session_started', 'session_success', 'session_terminated'];
/** When row `g` of `n` ended: evenly from `far` to `near` days ago (a LATERAL giving `t`). */
const ENDED_AT = `LATERAL (SELECT now() - make_interval(days => :far::int)
    + make_interval(secs => (:far::int - :near::int) * 86400.0 * g / :n::int) AS t) e0`;

export interface HistorySeed {
  /** Ended sessions to add (each with one kernel, its stored log, and SEEDED_EVENTS). */
  sessions: number;
  /** The keypair that owns them: made if it does not exist (a user of domain `default`). */
  accessKey: string;
  /** They ended between `endedDaysAgo[0]` and `endedDaysAgo[1]` days ago, evenly spread. */
  endedDaysAgo: [number, number];
  /** Sessions per transaction (default 100,000). */
  chunk?: number;
}

/**
 * Bulk history for the `history` bench and the index test: ended batch sessions with a kernel,
 * a stored log and their events, written by INSERT … SELECT generate_series in PostgreSQL (no
 * round trip per row). Ids derive from the owner and the row number, so a kernel and its
 * events find their session without a join. Where the role may (a superuser), foreign-key
 * and count triggers are skipped while loading and the ended-session counts added after.
 * Seed a keypair's history once (its names and ids would collide).
 */
export async function seedHistory(db: Db, s: HistorySeed): Promise<void> {
  await db('keypairs')
    .insert({
      access_key: s.accessKey,
      secret_key: newSecret(),
      user_email: `${s.accessKey.toLowerCase()}@history.bai.local`,
      domain_name: 'default',
      role: 'user',
      resource_policy: 'default',
      webhook_secret: newSecret(),
    })
    .onConflict('access_key')
    .ignore();
  const chunk = s.chunk ?? 100_000;
  const [near, far] = s.endedDaysAgo;
  const { rows: su } = (await db.raw(`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`)) as {
    rows: { rolsuper: boolean }[];
  };
  const bypass = su[0]?.rolsuper === true;
  // Event ids below every existing one: history's events are older than the live ones, and the
  // event tail (which reads ids above its horizon) never wades through them.
  const { rows: low } = (await db.raw(
    `SELECT least(coalesce(min(id), 0), 0) AS base FROM session_events`,
  )) as {
    rows: { base: string }[];
  };
  const base = Number(low[0]?.base ?? 0);
  // One transaction per chunk: no transaction of a million rows for the running system to see past.
  for (let from = 1; from <= s.sessions; from += chunk) {
    const to = Math.min(s.sessions, from + chunk - 1);
    const args = { ak: s.accessKey, from, to, n: s.sessions, near, far, image: PYTHON_IMAGE, base };
    await db.transaction(async (trx) => {
      if (bypass) await trx.raw(`SET LOCAL session_replication_role = replica`);
      await trx.raw(
        `INSERT INTO sessions (id, name, access_key, domain_name, scaling_group, type, status, status_info,
                               result, exit_code, image, requested_image, startup_command, agent_id,
                               created_at, updated_at, started_at, terminated_at)
         SELECT md5('s' || :ak::text || g)::uuid, 'h' || g, :ak::text, 'default', 'default', 'batch', 'TERMINATED',
                'task-finished', 'SUCCESS', 0, :image::text, 'python', 'true', 'history-agent',
                t - interval '2 seconds', t, t - interval '1 second', t
           FROM generate_series(:from::int, :to::int) g, ${ENDED_AT}`,
        args,
      );
      await trx.raw(
        `INSERT INTO kernels (id, session_id, agent_id, status, status_info, container_id, exit_code,
                              logs, created_at, started_at, terminated_at)
         SELECT md5('k' || :ak::text || g)::uuid, md5('s' || :ak::text || g)::uuid, 'history-agent', 'TERMINATED',
                'task-finished', md5('c' || g), 0, 'hello from ' || g || E'\\n',
                t - interval '2 seconds', t - interval '1 second', t
           FROM generate_series(:from::int, :to::int) g, ${ENDED_AT}`,
        args,
      );
      await trx.raw(
        `INSERT INTO session_events (id, session_id, access_key, name, data, created_at)
         SELECT :base::bigint - :k::bigint * :n::bigint + (g - 1) * :k::bigint + e.i - 1,
                md5('s' || :ak::text || g)::uuid, :ak::text, e.name,
                jsonb_build_object('sessionId', md5('s' || :ak::text || g)::uuid, 'sessionName', 'h' || g,
                                   'ownerAccessKey', :ak::text, 'status', 'TERMINATED', 'result', 'SUCCESS',
                                   'exitCode', 0, 'reason', 'task-finished'),
                t
           FROM generate_series(:from::int, :to::int) g, ${ENDED_AT},
                unnest(:names::text[]) WITH ORDINALITY e(name, i)`,
        { ...args, names: SEEDED_EVENTS, k: SEEDED_EVENTS.length },
      );
      // The count trigger did not run: the seeded rows' counts, from their ids alone.
      if (bypass)
        await trx.raw(
          `INSERT INTO session_end_counts AS c (scaling_group, status, result, shard, n)
           SELECT 'default', 'TERMINATED', 'SUCCESS', hashtext(md5('s' || :ak::text || g)::uuid::text) & 7, count(*)
             FROM generate_series(:from::int, :to::int) g GROUP BY 4
           ON CONFLICT (scaling_group, status, result, shard) DO UPDATE SET n = c.n + excluded.n`,
          args,
        );
    });
  }
}
