import test from 'ava';
import { IdempotencyStore } from '../../src/persistence/idempotency-store.js';
import { SessionBatchStore, type BatchMember } from '../../src/persistence/session-batch.js';
import {
  callbacksOf,
  sameCallbacks,
  sessionRows,
  storeFixture,
  written,
  type Made,
} from '../helpers/session-rows.js';

/**
 * New sessions in one statement (session-batch.ts: the store's insert, a group commit) against
 * the store's insert in a caller's transaction (insertIn, whose events and callback deliveries
 * are built in JS), on a real PostgreSQL: the same rows, the same events, the same deliveries;
 * and the webhook sender told when a session with a callback_url was written.
 */
let queued = 0;
const fx = storeFixture(test, { eventsCommitted() {}, callbacksQueued: () => (queued += 1) });

const HOOK = { callback_url: 'http://hook.invalid/x' };

/** The session through insertIn, in a transaction of its own (the reference). */
async function inTransaction(name: string, extra = {}): Promise<Made> {
  const { made, session, kernels } = sessionRows(fx, name, extra);
  await fx.database.db.transaction((trx) => fx.store.insertIn(trx, session, kernels, []));
  return made;
}

test.serial(
  'the one-statement insert writes the delivery insertIn wrote, and tells the sender',
  async (t) => {
    const a = await inTransaction('insert-tx', HOOK);
    const b = sessionRows(fx, 'insert-one', HOOK);
    queued = 0;
    await fx.store.insert(b.session, b.kernels, []);
    t.is(queued, 1);
    t.deepEqual(await written(fx, b.made), await written(fx, a));
    await sameCallbacks(t, fx, b.made.id, a.id, ['enqueued']);
    // Without a callback_url: no delivery, the sender is not told.
    const c = sessionRows(fx, 'insert-plain');
    queued = 0;
    await fx.store.insert(c.session, c.kernels, []);
    t.is(queued, 0);
    t.deepEqual(await callbacksOf(fx, c.made.id), []);
  },
);

for (const keyed of [false, true]) {
  test.serial(
    `a group ${keyed ? 'with keys (a transaction)' : 'without keys (one statement)'} writes the deliveries of its sessions with a callback_url`,
    async (t) => {
      const batch = new SessionBatchStore(
        fx.database.db,
        fx.store,
        new IdempotencyStore(fx.database.db, 3600),
      );
      const names = ['hook-1', 'plain', 'hook-2'].map((n) => `group-${keyed}-${n}`);
      const refs = [
        await inTransaction(`${names[0]}-tx`, HOOK),
        await inTransaction(`${names[1]}-tx`),
        await inTransaction(`${names[2]}-tx`, HOOK),
      ];
      const rows = names.map((n, i) => sessionRows(fx, n, i === 1 ? {} : HOOK));
      const members: BatchMember[] = rows.map((r, i) => ({
        session: r.session,
        kernels: r.kernels,
        dependencies: [],
        claim: keyed
          ? { accessKey: fx.database.admin.accessKey, key: `k-${names[i]}`, requestHash: 'h' }
          : null,
      }));
      queued = 0;
      const out = await batch.insertGroup(members);
      t.deepEqual(
        out.map((r) => r?.id),
        rows.map((r) => r.made.id),
      );
      t.is(queued, 1);
      for (const [i, r] of rows.entries()) {
        t.deepEqual(await written(fx, r.made), await written(fx, refs[i]!));
        await sameCallbacks(t, fx, r.made.id, refs[i]!.id, i === 1 ? [] : ['enqueued']);
      }
    },
  );
}
