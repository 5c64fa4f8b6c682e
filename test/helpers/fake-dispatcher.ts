import type { RunnableSession } from '../../src/persistence/placement-commit.js';
import { Dispatcher, type DispatcherDeps } from '../../src/workers/manager/dispatcher.js';

/** A runnable session of `slots` (one kernel, any architecture), as a runnable scan returns it. */
export const runnableSession = (id: string, slots: Record<string, number> = { cpu: 1 }): RunnableSession => ({
  id,
  requested_slots: slots,
  cluster_size: 1,
  architecture: null,
  predicates: null,
  domain_name: 'default',
  image: 'python',
});

/** A group's survey row: one agent of `cpu` cpus, nothing to cancel or wait for. */
export const surveyOf = (group: string, cpu: number) => ({
  group,
  joined: 0,
  laterAt: null,
  backoffAt: null,
  nextDeadline: null,
  expired: [],
  broken: [],
  agents: [{ id: `agent-${group}`, total: { cpu }, occupied: {}, placements: 0 }],
});

/**
 * A dispatcher on fakes: `scheduler`'s survey, scans (and whatever else it gives, such as
 * pendingNeeds), its placements told to `onPlace` and all committed; no catalog, queues or
 * log to speak of, the lease always held.
 */
export function fakeDispatcher(
  scheduler: {
    survey: () => Promise<unknown[]>;
    runnable: (group: string, horizon: Date, now: Date, limit: number) => Promise<unknown>;
    onPlace: (list: RunnableSession[]) => void;
  } & Record<string, unknown>,
  passPage = 64,
): Dispatcher {
  const { onPlace, ...reads } = scheduler;
  const deps = {
    scheduler: {
      ...reads,
      commitPlacement: async (_agent: string, list: RunnableSession[]) => {
        onPlace(list);
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
    passPage,
  } as unknown as DispatcherDeps;
  return new Dispatcher(deps);
}
