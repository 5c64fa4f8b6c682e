import test from 'ava';
import type { RoomLeft } from '../../src/domain/placement.js';
import type { RunnableScan } from '../../src/persistence/runnable-scan.js';
import type { PendingNeed } from '../../src/persistence/scheduler-store.js';
import { deeperMayPlace } from '../../src/workers/manager/deeper-read.js';
import { fakeDispatcher, runnableSession as session, surveyOf } from '../helpers/fake-dispatcher.js';

const need = (slots: Record<string, number>, cluster = 1, arch: string | null = null): PendingNeed => ({
  requested_slots: slots,
  cluster_size: cluster,
  architecture: arch,
});

/** A placement of `n` decisions that left `left`. */
const placed = (n: number, left: RoomLeft[]) => ({ decisions: Array.from({ length: n }), left });

test('the rest of the queue is read when the whole page was placed, without asking for needs', async (t) => {
  let asked = 0;
  const needs = async () => (asked++, []);
  t.true(await deeperMayPlace(placed(3, [{ free: { cpu: 1 } }]), 3, needs));
  t.is(asked, 0);
});

test('the rest is read only when one of the needs fits the room the page left', async (t) => {
  const left = [{ free: { cpu: 2, mem: 4 } }];
  const page = placed(1, left);
  t.false(await deeperMayPlace(page, 2, async () => [need({ cpu: 1, gpu: 1 })]), 'a slot no agent has');
  t.false(await deeperMayPlace(page, 2, async () => [need({ cpu: 1 }, 3)]), 'three kernels of one cpu');
  t.true(await deeperMayPlace(page, 2, async () => [need({ cpu: 1, gpu: 1 }), need({ cpu: 2 })]));
  t.true(await deeperMayPlace(page, 2, async () => null), 'more distinct needs than weighed: read');
  t.false(await deeperMayPlace(placed(1, []), 2, async () => [need({ cpu: 1 })]), 'every agent reserved');
});

/**
 * One pass of a dispatcher on fakes: one agent of 4 cpus; the page holds `a` (one cpu) and `g`
 * (a gpu no agent has) and says more follow; the group's needs are `needs`. The limits the
 * scans were read with.
 */
async function passWith(needs: PendingNeed[]): Promise<{ limits: number[]; placed: string[] }> {
  const limits: number[] = [];
  const placed: string[] = [];
  const d = fakeDispatcher(
    {
      survey: async () => [surveyOf('g', 4)],
      runnable: async (_g: string, _h: Date, _n: Date, limit: number): Promise<RunnableScan> => {
        limits.push(limit);
        const rows = [session('a', { cpu: 1 }), session('g', { cpu: 1, gpu: 1 })];
        if (limit > 2) rows.push(session('b', { cpu: 1 }));
        return { rows, total: rows.length, more: limit <= 2 };
      },
      pendingNeeds: async () => needs,
      onPlace: (list) => placed.push(...list.map((s) => s.id)),
    },
    2,
  );
  await d.pass();
  await d.close();
  return { limits, placed };
}

test('a pass does not read the whole queue when no request in the group fits the room left', async (t) => {
  const r = await passWith([need({ cpu: 1, gpu: 1 }), need({ cpu: 8 })]);
  t.deepEqual(r.limits, [2], 'the page only');
  t.deepEqual(r.placed, ['a']);
});

test('a pass reads the whole queue when a request in the group fits the room left', async (t) => {
  const r = await passWith([need({ cpu: 1, gpu: 1 }), need({ cpu: 1 })]);
  t.deepEqual(r.limits, [2, 1000], 'the page, then the whole queue');
  t.deepEqual(r.placed.sort(), ['a', 'b']);
});
