import test from 'ava';
import { HistoryPruner } from '../../src/workers/manager/history-pruner.js';
import { quietLog } from '../helpers/stack.js';

/** Ended sessions in memory by when they ended (our own interface, not PostgreSQL). */
class EndedSessions {
  calls: { cutoff: Date; limit: number }[] = [];
  constructor(public endedAt: number[]) {}
  async pruneBatch(cutoff: Date, limit: number): Promise<number> {
    this.calls.push({ cutoff, limit });
    const expired = this.endedAt.filter((t) => t < cutoff.getTime()).slice(0, limit);
    this.endedAt = this.endedAt.filter((t) => !expired.includes(t));
    return expired.length;
  }
}

const DAY = 24 * 3600 * 1000;
const NOW = Date.parse('2026-11-29T10:00:00Z');

function pruner(store: EndedSessions, retentionDays: number, batch: number, lease = async () => true) {
  return new HistoryPruner({ store, log: quietLog, retentionDays, batch, holdLease: lease });
}

test('a pass deletes what ended before now − retention, a batch at a time, until a batch is short', async (t) => {
  const old = Array.from({ length: 10 }, (_, i) => NOW - 40 * DAY + i);
  const recent = [NOW - 29 * DAY, NOW - DAY];
  const store = new EndedSessions([...old, ...recent]);
  const p = pruner(store, 30, 4);
  t.is(await p.pass(NOW), 10);
  t.deepEqual(store.endedAt, recent);
  t.deepEqual(
    store.calls.map((c) => c.limit),
    [4, 4, 4],
  );
  t.is(store.calls[0]!.cutoff.getTime(), NOW - 30 * DAY);
  t.is(p.batches, 3);
  t.is(p.pruned, 10);
});

test('retention 0 keeps everything: no batch is run', async (t) => {
  const store = new EndedSessions([NOW - 400 * DAY]);
  t.is(await pruner(store, 0, 4).pass(NOW), 0);
  t.is(store.calls.length, 0);
});

test('a pass stops when the lease is lost between batches', async (t) => {
  const store = new EndedSessions(Array.from({ length: 10 }, (_, i) => NOW - 40 * DAY + i));
  let held = 2;
  const p = pruner(store, 30, 3, async () => held-- > 0);
  t.is(await p.pass(NOW), 6);
  t.is(store.endedAt.length, 4);
});

test('after close() a pass runs no further batch', async (t) => {
  const store = new EndedSessions([NOW - 40 * DAY]);
  const p = pruner(store, 30, 3);
  p.close();
  t.is(await p.pass(NOW), 0);
  t.is(store.calls.length, 0);
});
