import test from 'ava';
import { ArraySettler } from '../../src/workers/manager/array-settler.js';
import type { OpenParent } from '../../src/persistence/array-store.js';
import { quietLog } from '../helpers/stack.js';

/** The settle step's read in memory (our own interface, not PostgreSQL), counting reads. */
class Parents {
  reads = 0;
  insertions = 0;
  open: OpenParent[] = [];
  stray: string[] = [];
  /** Runs after the read took its snapshot, before it returns (a commit while it runs). */
  duringRead: (() => void) | null = null;
  async openParents(): Promise<{ open: OpenParent[]; stray: string[] }> {
    this.reads++;
    const out = { open: this.open, stray: this.stray };
    await Promise.resolve();
    this.duringRead?.();
    return out;
  }
  async cancelPendingChildren(): Promise<number> {
    this.stray = [];
    return 0;
  }
}

const noMoves = { transition: async () => null };

function settler(parents: Parents, clock: { t: number }) {
  return new ArraySettler(parents, noMoves, quietLog, { recheckMs: 2_000, now: () => clock.t });
}

test('with no array to follow, passes do not read again until an insert or the recheck time', async (t) => {
  const parents = new Parents();
  const clock = { t: 1_000 };
  const s = settler(parents, clock);
  t.is(await s.settle(), 0);
  t.is(parents.reads, 1);
  clock.t += 500;
  await s.settle();
  await s.settle();
  t.is(parents.reads, 1, 'nothing to follow and nothing inserted: no read');
  parents.insertions++;
  await s.settle();
  t.is(parents.reads, 2, 'an array insert begun or committed here: read again');
  clock.t += 1_999;
  await s.settle();
  t.is(parents.reads, 2);
  clock.t += 1;
  await s.settle();
  t.is(parents.reads, 3, 'another manager may have inserted one: read every recheck time');
});

test('while a parent is open or has stray children, every pass reads', async (t) => {
  const parents = new Parents();
  const clock = { t: 0 };
  const s = settler(parents, clock);
  parents.open = [{ id: 'p', status: 'RUNNING', open: 2, ran: true, firstFailed: null }];
  await s.settle();
  await s.settle();
  t.is(parents.reads, 2);
  parents.open = [];
  parents.stray = ['q'];
  await s.settle();
  t.is(parents.reads, 3);
  // That pass cancelled the stray children; the next one reads and finds nothing left.
  await s.settle();
  t.is(parents.reads, 4);
  await s.settle();
  t.is(parents.reads, 4, 'nothing left to follow: quiet');
});

test('an insert that commits while the read runs makes the next pass read again', async (t) => {
  const parents = new Parents();
  const clock = { t: 0 };
  const s = settler(parents, clock);
  parents.duringRead = () => parents.insertions++; // committed after the read's snapshot
  await s.settle();
  await s.settle();
  t.is(parents.reads, 2);
});

test("another manager's commit makes the next pass read again", async (t) => {
  const parents = new Parents();
  const clock = { t: 0 };
  const s = settler(parents, clock);
  await s.settle();
  await s.settle();
  t.is(parents.reads, 1);
  s.elsewhere();
  await s.settle();
  t.is(parents.reads, 2);
  await s.settle();
  t.is(parents.reads, 2);
});

test("another manager's commit that arrives while the read runs makes the next pass read again", async (t) => {
  const parents = new Parents();
  const clock = { t: 0 };
  const s = settler(parents, clock);
  parents.duringRead = () => s.elsewhere(); // its wake-up, after the read's snapshot
  await s.settle();
  parents.duringRead = null;
  await s.settle();
  t.is(parents.reads, 2);
  await s.settle();
  t.is(parents.reads, 2, 'nothing since: quiet');
});
