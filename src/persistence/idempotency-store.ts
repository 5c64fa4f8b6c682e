import type { Knex } from 'knex';
import type { Db, Tx } from './db.js';
import type { IdempotencyKeyRow, SessionRow } from './rows.js';

/** A key to hold for a new session: its owner, the key, the request's hash. */
export interface KeyClaim {
  accessKey: string;
  key: string;
  requestHash: string;
}

/** A session's insert, run in the transaction that holds its key. */
export interface KeyedInsert {
  sessionId: string;
  insertIn(trx: Tx): Promise<SessionRow>;
  /** After the commit (listeners of new events). */
  committed(): void;
}

/** A row older than the retention (seconds; PostgreSQL's clock, as created_at) is expired. */
const LIVE = `created_at > now() - (? * interval '1 second')`;
const EXPIRED = `created_at <= now() - (? * interval '1 second')`;

/**
 * The idempotency_keys table. A key is held by one session per keypair: the primary key
 * (access_key, key) makes a second insert wait for the first one's transaction and then find
 * the key taken, so two concurrent requests with one key create one session. A row older than
 * the retention counts as absent and is replaced by the next request with its key.
 */
export class IdempotencyStore {
  constructor(
    private readonly db: Db,
    private readonly retentionSeconds: number,
  ) {}

  /** The key's row, unless it expired. */
  async find(accessKey: string, key: string): Promise<IdempotencyKeyRow | undefined> {
    return this.db<IdempotencyKeyRow>('idempotency_keys')
      .where({ access_key: accessKey, key })
      .whereRaw(LIVE, [this.retentionSeconds])
      .first();
  }

  /**
   * Inserts a new session (`insert.insertIn`: a plain one, or an array's parent and children)
   * and the key that names it, in one transaction, the key first. Null when another request
   * holds the key (found after waiting for its commit): nothing was written, the caller answers
   * that one's session.
   */
  async insertSession(claim: KeyClaim, insert: KeyedInsert): Promise<SessionRow | null> {
    const row = await this.db.transaction(async (trx) => {
      if (!(await this.claimIn(trx, claim, insert.sessionId))) return null;
      return insert.insertIn(trx);
    });
    if (row) insert.committed();
    return row;
  }

  /** Records the key for a session that exists (a reused live one); false when another request holds it. */
  async claimFor(claim: KeyClaim, sessionId: string): Promise<boolean> {
    return this.claimIn(this.db, claim, sessionId);
  }

  /** claimManyIn of one key: false when a live row holds it. */
  private async claimIn(q: Db | Tx, claim: KeyClaim, sessionId: string): Promise<boolean> {
    return (await this.claimManyIn(q, [{ ...claim, sessionId }])).size > 0;
  }

  /**
   * Inserts each key, or takes over an expired row of it, in one statement (no key twice; the
   * group commit sees to that), in key order so two groups lock in the same order. Returns the
   * session ids whose key was claimed (a live row holds the others). A row another transaction
   * inserted and has not committed yet makes this wait for that commit (then it is live) or
   * rollback (then the insert goes through).
   */
  async claimManyIn(q: Db | Tx, claims: readonly (KeyClaim & { sessionId: string })[]): Promise<Set<string>> {
    if (claims.length === 0) return new Set();
    const sorted = [...claims].sort((a, b) =>
      a.accessKey === b.accessKey ? (a.key < b.key ? -1 : 1) : a.accessKey < b.accessKey ? -1 : 1,
    );
    const res = (await q.raw(
      `INSERT INTO idempotency_keys (access_key, key, request_hash, session_id)
       VALUES ${sorted.map(() => '(?, ?, ?, ?::uuid)').join(', ')}
       ON CONFLICT (access_key, key) DO UPDATE
         SET request_hash = EXCLUDED.request_hash, session_id = EXCLUDED.session_id, created_at = now()
         WHERE idempotency_keys.created_at <= now() - (? * interval '1 second')
       RETURNING session_id`,
      [
        ...sorted.flatMap((c) => [c.accessKey, c.key, c.requestHash, c.sessionId]),
        this.retentionSeconds,
      ] as Knex.RawBinding[],
    )) as { rows: { session_id: string }[] };
    return new Set(res.rows.map((r) => r.session_id));
  }

  /** Deletes up to `limit` expired keys; returns how many. */
  async prune(limit = 1000): Promise<number> {
    return this.db('idempotency_keys')
      .whereIn(
        ['access_key', 'key'],
        this.db('idempotency_keys')
          .select('access_key', 'key')
          .whereRaw(EXPIRED, [this.retentionSeconds])
          .limit(limit),
      )
      .del();
  }
}
