import type { Knex } from 'knex';
import type { ResolvedDependency } from '../domain/dependency-condition.js';
import { sessionEventName } from '../domain/events.js';
import type { Db, Tx } from './db.js';
import { dependencyRows } from './dependency-sql.js';
import type { IdempotencyStore, KeyClaim } from './idempotency-store.js';
import { toJsonColumns } from './json-columns.js';
import type { KernelRow, SessionRow } from './rows.js';
import { eventDataSql } from './session-events.js';
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
 * Sessions, their kernels, dependencies and `session_enqueued` events, for any number of
 * sessions, in ONE statement: data-modifying CTEs run together and commit atomically. Each
 * event's data is built by PostgreSQL from its inserted row (eventDataSql, the fields eventData
 * writes). Rows come back in the order of `members`.
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
  const sql =
    `WITH ${ctes.join(', ')}, e AS (INSERT INTO session_events (session_id, access_key, name, data) ` +
    `SELECT s.id, s.access_key, ?, ${eventDataSql('s')} FROM s ORDER BY s.created_at, s.id) SELECT * FROM s`;
  bindings.push(sessionEventName('PENDING')!);
  const res = (await q.raw(sql, bindings as Knex.RawBinding[])) as { rows: SessionRow[] };
  const byId = new Map(res.rows.map((r) => [r.id, r]));
  return members.map((m) => byId.get(m.session.id!)!);
}

/**
 * A group commit of new sessions (src/api/submit-batcher.ts). Sessions without a key or a
 * callback_url go in one statement (one round trip, one WAL flush for the group); with keys,
 * the keys are claimed first in the same transaction, and a member whose key another request
 * holds is left out (null: its caller answers that request's session); sessions with a
 * callback_url are written by the store's transactional insert (their webhook bodies are built
 * in JS). Any failure rolls the whole group back; the caller then retries members one by one.
 * The caller notifies listeners after the commit.
 */
export class SessionBatchStore {
  constructor(
    private readonly db: Db,
    private readonly sessions: SessionStore,
    private readonly keys: IdempotencyStore,
  ) {}

  async insertGroup(members: readonly BatchMember[]): Promise<(SessionRow | null)[]> {
    const simple = (m: BatchMember) => m.claim === null && !m.session.callback_url;
    if (members.every(simple)) return insertSessionsAtOnce(this.db, members);
    return this.db.transaction(async (trx) => {
      const claims = members.flatMap((m) => (m.claim ? [{ ...m.claim, sessionId: m.session.id! }] : []));
      const held = await this.keys.claimManyIn(trx, claims);
      const go = members.filter((m) => m.claim === null || held.has(m.session.id!));
      const rows = new Map<string, SessionRow>();
      const plain = go.filter((m) => !m.session.callback_url);
      for (const r of await insertSessionsAtOnce(trx, plain)) rows.set(r.id, r);
      for (const m of go.filter((x) => x.session.callback_url)) {
        const r = await this.sessions.insertIn(trx, m.session, m.kernels, m.dependencies);
        rows.set(r.id, r);
      }
      return members.map((m) => rows.get(m.session.id!) ?? null);
    });
  }
}
