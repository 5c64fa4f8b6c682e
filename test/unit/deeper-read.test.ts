import test from 'ava';
import type { RunnableSession } from '../../src/persistence/placement-commit.js';
import type { RunnableScan } from '../../src/persistence/runnable-scan.js';
import type { PendingNeed } from '../../src/persistence/scheduler-store.js';
import { deeperMayPlace } from '../../src/workers/manager/deeper-read.js';
import { Dispatcher, type DispatcherDeps } from '../../src/workers/manager/dispatcher.js';

const need = (slots: Record<string, number>, cluster = 1, arch: string | null = null): PendingNeed => ({
  requested_slots: slots,
  cluster_size: cluster,
  architecture: arch,
});

test('the rest of the queue is read when the whole page was placed, without asking for needs', async (t) => {
  let asked = 0;
  const needs = async () => (asked++, []);
  t.true(await deeperMayPlace({ placed: 3, read: 3, left: [{ free: { cpu: 1 } }] }, needs));
  t.is(asked, 0);
});

test('the rest is read only when one of the needs fits the room the page left', async (t) => {
  const left = [{ free: { cpu: 2, mem: 4 } }];
  const page = { placed: 1, read: 2, left };
  t.false(await deeperMayPlace(page, async () => [need({ cpu: 1, gpu: 1 })]), 'a slot no agent has');
  t.false(await deeperMayPlace(page, async () => [need({ cpu: 1 }, 3)]), 'three kernels of one cpu');
  t.true(await deeperMayPlace(page, async () => [need({ cpu: 1, gpu: 1 }), need({ cpu: 2 })]));
  t.true(await deeperMayPlace(page, async () => null), 'more distinct needs than weighed: read');
  t.false(
    await deeperMayPlace({ ...page, left: [] }, async () => [need({ cpu: 1 })]),
    'every agent reserved',
  );
});

const session = (id: string, slots: Record<string, number>): RunnableSession => ({
  id,
  requested_slots: slots,
  cluster_size: 1,
  architecture: null,
  predicates: null,
  domain_name: 'default',
  image: 'python',
});

/**
 * One pass of a dispatcher on fakes: one agent of 4 cpus; the page holds `a` (one cpu) and `g`
 * (a gpu no agent has) and says more follow; the group's needs are `needs`. The limits the
 * scans were read with.
 */
async function passWith(needs: PendingNeed[]): Promise<{ limits: number[]; placed: string[] }> {
  const limits: number[] = [];
  const placed: string[] = [];
  const deps = {
    scheduler: {
      survey: async () => [
        {
          group: 'g',
          laterAt: null,
          backoffAt: null,
          nextDeadline: null,
          expired: [],
          broken: [],
          agents: [{ id: 'agent-1', total: { cpu: 4 }, occupied: {}, placements: 0 }],
        },
      ],
      runnable: async (_g: string, _h: Date, _n: Date, limit: number): Promise<RunnableScan> => {
        limits.push(limit);
        const rows = [session('a', { cpu: 1 }), session('g', { cpu: 1, gpu: 1 })];
        if (limit > 2) rows.push(session('b', { cpu: 1 }));
        return { rows, total: rows.length, more: limit <= 2 };
      },
      pendingNeeds: async () => needs,
      commitPlacement: async (_agent: string, list: RunnableSession[]) => {
        placed.push(...list.map((s) => s.id));
        return list.map((s) => ({ session: { id: s.id, starts_at: null }, kernels: [] }));
      },
      writePredicates: async () => {},
    },
    sessions: { notifyCommitted() {} },
    catalog: { resolveImage: async () => null },
    queues: { noteGroup() {}, run: async () => {} },
    log: { info() {}, error() {} },
    startLeadMs: 30_000,
    withLease: (fn: () => Promise<void>) => fn(),
    passPage: 2,
  } as unknown as DispatcherDeps;
  const d = new Dispatcher(deps);
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
