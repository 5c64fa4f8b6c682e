import { checkSameRequest, type IdempotentRequest } from '../domain/idempotency.js';
import { InternalError } from '../domain/errors.js';
import type { Logger } from '../log/logger.js';
import type { IdempotencyStore, KeyClaim, KeyedInsert } from '../persistence/idempotency-store.js';
import type { SessionRow } from '../persistence/rows.js';
import type { SessionStore } from '../persistence/session-store.js';

/** How often, at most, a manager deletes expired keys (after a create that held a new key). */
const PRUNE_EVERY_MS = 60_000;

/**
 * Idempotency keys around `SessionService.create`: the session an earlier request with the key
 * created, and the insert that holds a new key in the session's own transaction.
 */
export class IdempotentCreates {
  private lastPrune = 0;

  constructor(private readonly deps: { store: IdempotencyStore; sessions: SessionStore; log: Logger }) {}

  /**
   * The session an earlier request of this keypair with the key created (null: none within the
   * retention); a 422 when this request differs from that one.
   */
  async replay(accessKey: string, req: IdempotentRequest): Promise<SessionRow | null> {
    const found = await this.deps.store.find(accessKey, req.key);
    if (!found) return null;
    return (await this.deps.sessions.get(checkSameRequest(req, found))) ?? null;
  }

  /**
   * Inserts the new session, holding the key if the request has one (`created: true`); when a
   * concurrent request with the key committed first, nothing is inserted and its session is the
   * answer (`created: false`).
   */
  async insert(
    accessKey: string,
    req: IdempotentRequest | null,
    insert: { plain(): Promise<SessionRow> } & KeyedInsert,
  ): Promise<{ row: SessionRow; created: boolean }> {
    const { store } = this.deps;
    if (!req) return { row: await insert.plain(), created: true };
    const claim: KeyClaim = { accessKey, key: req.key, requestHash: req.requestHash };
    // A second round only when the holder's row expired between the claim and the read.
    for (let round = 0; round < 3; round++) {
      const row = await store.insertSession(claim, insert);
      if (row) {
        this.pruneSoon();
        return { row, created: true };
      }
      const held = await this.replay(accessKey, req);
      if (held) return { row: held, created: false };
    }
    throw new InternalError('The idempotency key could neither be held nor found.');
  }

  /** A live session of the request's name is reused: from now on the key names it (or the session another request with the key got). */
  async adopt(req: IdempotentRequest, existing: SessionRow): Promise<SessionRow> {
    const claim: KeyClaim = { accessKey: existing.access_key, key: req.key, requestHash: req.requestHash };
    if (await this.deps.store.claimFor(claim, existing.id)) return existing;
    return (await this.replay(existing.access_key, req)) ?? existing;
  }

  /** Deletes expired keys, at most once a minute, in the background (a failure is logged, the next create tries again). */
  pruneSoon(): void {
    const now = Date.now();
    if (now - this.lastPrune < PRUNE_EVERY_MS) return;
    this.lastPrune = now;
    this.deps.store
      .prune()
      .then((n) => {
        if (n > 0) this.deps.log.info('expired idempotency keys deleted', { count: n });
      })
      .catch((err: unknown) =>
        this.deps.log.error('deleting expired idempotency keys failed', {
          err: String((err as Error)?.message ?? err),
        }),
      );
  }
}
