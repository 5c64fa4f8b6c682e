import type { IdempotentRequest } from '../domain/idempotency.js';
import type { Logger } from '../log/logger.js';
import type { SessionRow } from '../persistence/rows.js';
import type { BatchMember, NewSession, SessionBatchStore } from '../persistence/session-batch.js';
import { plainSessionInsert } from '../persistence/session-inserts.js';
import type { SessionStore } from '../persistence/session-store.js';
import { GroupCommit } from './group-commit.js';
import type { IdempotentCreates } from './idempotent-create.js';

interface Item extends BatchMember {
  idem: IdempotentRequest | null;
}

/** A new session: created (true), or the session of a concurrent request with the same key (false). */
export interface Inserted {
  row: SessionRow;
  created: boolean;
}

/**
 * Group commit of `POST /session` (one session each, arrays excepted): requests validated
 * separately are inserted together, in one statement when they have no key (callback
 * deliveries included), else in one transaction (src/persistence/session-batch.ts); each caller's promise resolves
 * only after the commit, so each 201 still means committed. Per group, listeners (event hub:
 * SSE, create waits) are notified once and the dispatcher is woken once. When a group fails
 * (one member's name taken meanwhile, a dependency gone, a key raced), its members are inserted
 * one by one through the unbatched path, so each gets the answer it would have had alone.
 * A request whose client went away is committed all the same, as without batching: the client's
 * going away only ends a create's wait for RUNNING.
 */
export class SubmitBatcher {
  private readonly group: GroupCommit<Item, Inserted | null>;

  constructor(
    private readonly deps: {
      store: SessionBatchStore;
      sessions: SessionStore;
      idempotency: IdempotentCreates;
      log: Logger;
      /**
       * Asks the dispatcher for a pass, given the earliest starts_at committed (null: one is due
       * now) and the scaling groups of the sessions committed.
       */
      kickDispatcher: (startsAt: Date | null, groups: Iterable<string>) => void;
      maxBatch?: number;
    },
  ) {
    this.group = new GroupCommit<Item, Inserted | null>({
      maxBatch: deps.maxBatch ?? 500,
      keyOf: (it) => (it.claim ? `${it.claim.accessKey}\u0000${it.claim.key}` : null),
      commit: (items) => this.commitGroup(items),
      single: (it) => this.single(it),
      onGroupFailed: (err, size) =>
        deps.log.info('group commit failed; its sessions are inserted one by one', {
          size,
          err: String((err as Error)?.message ?? err),
        }),
    });
  }

  /** Groups sent to commit and the creates they held since start, and creates waiting for a group now. */
  stats(): { groups: number; items: number; waiting: number } {
    return { groups: this.group.groups, items: this.group.items, waiting: this.group.waiting };
  }

  /**
   * Inserts a new session and holds its key (if any); resolves after the commit. With a key a
   * concurrent request holds, nothing is inserted and that request's session is the answer.
   */
  async insert(accessKey: string, idem: IdempotentRequest | null, rows: NewSession): Promise<Inserted> {
    const claim = idem ? { accessKey, key: idem.key, requestHash: idem.requestHash } : null;
    const out = await this.group.submit({ ...rows, claim, idem });
    if (out) return out;
    // The key was held by another request when the group claimed it: its session is the answer.
    const held = await this.deps.idempotency.replay(accessKey, idem!);
    if (held) return { row: held, created: false };
    // Its row expired between the claim and the read: the unbatched path claims it again.
    return this.single({ ...rows, claim, idem });
  }

  private async commitGroup(items: Item[]): Promise<(Inserted | null)[]> {
    const rows = await this.deps.store.insertGroup(items);
    const made = rows.filter((r): r is SessionRow => r !== null);
    if (made.length > 0) {
      this.deps.sessions.notifyCommitted();
      this.kick(made);
      if (items.some((it) => it.claim)) this.deps.idempotency.pruneSoon();
    }
    return rows.map((row) => (row ? { row, created: true } : null));
  }

  /** The unbatched path of one session (src/api/idempotent-create.ts), its own error its answer. */
  private async single(it: Item): Promise<Inserted> {
    const accessKey = it.session.access_key!;
    const out = await this.deps.idempotency.insert(
      accessKey,
      it.idem,
      plainSessionInsert(this.deps.sessions, it.session, it.kernels, it.dependencies),
    );
    if (out.created) this.kick([out.row]);
    return out;
  }

  /** One wake-up for the group: at once when any is due, else at the earliest starts_at. */
  private kick(rows: SessionRow[]): void {
    const groups = new Set(rows.map((r) => r.scaling_group));
    if (rows.some((r) => !r.starts_at)) return this.deps.kickDispatcher(null, groups);
    const earliest = Math.min(...rows.map((r) => new Date(r.starts_at!).getTime()));
    this.deps.kickDispatcher(new Date(earliest), groups);
  }
}
