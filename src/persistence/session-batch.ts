import type { Knex } from 'knex';
import type { ResolvedDependency } from '../domain/dependency-condition.js';
import { callbackEventOf, sessionEventName } from '../domain/events.js';
import type { Db, Tx } from './db.js';
import { dependencyRows } from './dependency-sql.js';
import type { IdempotencyStore, KeyClaim } from './idempotency-store.js';
import { toJsonColumns } from './json-columns.js';
import type { KernelRow, SessionRow } from './rows.js';
import { sqlText } from './sql-literals.js';
import { callbackDeliveriesSql, eventDataSql } from './session-events.js';
import type { SessionStore } from './session-store.js';

/** One new PENDING session's rows (jsonb columns as plain values). */
export interface NewSession {
  session: Partial<SessionRow>;
  kernels: Partial<KernelRow>[];
  dependencies: readonly ResolvedDependency[];
}

/** A session of a group commit, with the idempotency key it holds, if any. */
export interface BatchMember extends NewSession {
  claim: KeyClaim | null;
}

/**
 * Sessions, their kernels, dependencies and `session_enqueued` events, with the callback
 * deliveries of those with a callback_url, for any number of sessions, in ONE statement:
 * data-modifying CTEs run together and commit atomically. Each event's data and each
 * delivery's body are built by PostgreSQL from its inserted row (eventDataSql and
 * callbackDeliveriesSql, the fields sessionEventRows writes). Rows come back in the order of
 * `members`; the caller tells the webhook sender when one has a callback_url.
 */
export async function insertSessionsAtOnce(
  q: Db | Tx,
  members: readonly NewSession[],
): Promise<SessionRow[]> {
  if (members.length === 0) return [];
  const ctes: string[] = [];
  const bindings: unknown[] = [];
  const add = (name: string, b: { toSQL(): { sql: string; bindings: readonly unknown[] } }) => {
    const { sql, bindings: bs } = b.toSQL();
    ctes.push(`${name} AS (${sql})`);
    bindings.push(...bs);
  };
  add(
    's',
    q('sessions')
      .insert(members.map((m) => toJsonColumns(m.session)))
      .returning('*'),
  );
  add('k', q('kernels').insert(members.flatMap((m) => m.kernels.map((k) => toJsonColumns(k)))));
  const deps = members.flatMap((m) =>
    m.dependencies.length > 0 ? dependencyRows(m.session.id!, m.dependencies) : [],
  );
  if (deps.length > 0) add('d', q('session_dependencies').insert(deps));
  ctes.push(
    `e AS (INSERT INTO session_events (session_id, access_key, name, data) ` +
      `SELECT s.id, s.access_key, ?, ${eventDataSql('s')} FROM s ORDER BY s.created_at, s.id)`,
  );
  const name = sessionEventName('PENDING')!;
  bindings.push(name);
  const callback = callbackEventOf(name);
  if (callback !== undefined && members.some((m) => m.session.callback_url)) {
    ctes.push(
      `w AS (${callbackDeliveriesSql('s', 's', `${sqlText(callback)}::text`, 's.created_at, s.id')})`,
    );
  }
  const sql = `WITH ${ctes.join(', ')} SELECT * FROM s`;
  const res = (await q.raw(sql, bindings as Knex.RawBinding[])) as { rows: SessionRow[] };
  const byId = new Map(res.rows.map((r) => [r.id, r]));
  return members.map((m) => byId.get(m.session.id!)!);
}

/**
 * A group commit of new sessions (src/api/submit-batcher.ts). Sessions without a key go in
 * one statement (one round trip, one WAL flush for the group); with keys, the keys are claimed
 * first in the same transaction, and a member whose key another request holds is left out
 * (null: its caller answers that request's session). Any failure rolls the whole group back;
 * the caller then retries members one by one. The caller notifies listeners after the commit;
 * the webhook sender is told here when a session with a callback_url was written.
 */
export class SessionBatchStore {
  constructor(
    private readonly db: Db,
    private readonly sessions: Pick<SessionStore, 'notifyCallbacksQueued'>,
    private readonly keys: IdempotencyStore,
  ) {}

  async insertGroup(members: readonly BatchMember[]): Promise<(SessionRow | null)[]> {
    const out = members.every((m) => m.claim === null)
      ? await insertSessionsAtOnce(this.db, members)
      : await this.db.transaction(async (trx) => {
          const claims = members.flatMap((m) => (m.claim ? [{ ...m.claim, sessionId: m.session.id! }] : []));
          const held = await this.keys.claimManyIn(trx, claims);
          const go = members.filter((m) => m.claim === null || held.has(m.session.id!));
          const rows = new Map((await insertSessionsAtOnce(trx, go)).map((r) => [r.id, r]));
          return members.map((m) => rows.get(m.session.id!) ?? null);
        });
    if (out.some((r) => r?.callback_url)) this.sessions.notifyCallbacksQueued();
    return out;
  }
}
