import test from 'ava';
import { Dispatcher, type DispatcherDeps } from '../../src/workers/manager/dispatcher.js';
import { Reconciler, type ReconcilerDeps } from '../../src/workers/manager/reconciler.js';
import type { Heartbeat } from '../../src/queue/payloads.js';
import type { AgentRow } from '../../src/persistence/rows.js';

const TIMEOUT_MS = 20_000;

/** A fleet of one agent whose heartbeat the test sets; counts the reads of PostgreSQL. */
function fleet(opts: { live?: boolean } = {}) {
  const state = {
    hb: {
      agentId: 'a1',
      scalingGroup: 'default',
      at: Date.now(),
      slots: { cpu: 4 },
      occupied: {},
      draining: false,
      sessions: [],
    } as Heartbeat,
    live: opts.live ?? false,
    reads: 0,
    lost: [] as Date[],
  };
  const agent = {
    id: 'a1',
    status: 'ALIVE',
    last_heartbeat: new Date(Date.now() - 60_000),
  } as unknown as AgentRow;
  const deps = {
    fleet: {
      watchedAgents: async () => {
        state.reads++;
        return [agent];
      },
      markAlive: async () => 0,
      markLost: async (_id: string, _info: string, at: Date) => {
        state.lost.push(at);
        return true;
      },
      flagSessionsOf: async () => {},
      sessionsByIds: async () => [],
      activeOn: async () => [],
      timedOut: async () => ({ stuck: [], pending: [], live: state.live }),
    },
    redis: { mget: async () => [JSON.stringify(state.hb)] },
    prefix: 'p',
    sessions: { notifyCommitted() {} },
    catalog: {},
    queues: { noteGroup() {}, cleanup: async () => {}, hasPendingRun: async () => true },
    log: { info() {}, error() {} },
    agentTimeoutMs: TIMEOUT_MS,
    agentGraceMs: 180_000,
    phaseTimeoutMs: 600_000,
    onCapacityFreed() {},
  } as unknown as ReconcilerDeps;
  return { state, reconciler: new Reconciler(deps) };
}

test('an idle reconciler tick reads PostgreSQL only when something changed', async (t) => {
  const { state, reconciler } = fleet();
  await reconciler.tick();
  t.is(state.reads, 1, 'the first tick is a whole pass');
  state.hb = { ...state.hb, at: Date.now() };
  await reconciler.tick();
  t.is(state.reads, 1, 'a new heartbeat saying the same: no pass');

  reconciler.wake();
  await reconciler.tick();
  t.is(state.reads, 2, 'a commit since: a pass');
  await reconciler.tick();
  t.is(state.reads, 2);

  state.hb = { ...state.hb, sessions: [{ sessionId: 's1', attempt: 1, state: 'running' }] };
  await reconciler.tick();
  t.is(state.reads, 3, 'the heartbeat lists a container: a pass');
  await reconciler.tick();
  t.is(state.reads, 4, 'and every tick while it does');
  state.hb = { ...state.hb, sessions: [] };
  await reconciler.tick();
  t.is(state.reads, 5);

  reconciler.forget();
  await reconciler.tick();
  t.is(state.reads, 6, 'the lease was away: a pass');
});

test('a silent agent turns stale at its timeout: the idle tick passes and marks it LOST from its key’s time', async (t) => {
  const { state, reconciler } = fleet();
  await reconciler.tick();
  t.is(state.reads, 1);
  state.hb = { ...state.hb, at: Date.now() - TIMEOUT_MS - 1 };
  await reconciler.tick();
  t.is(state.reads, 2);
  t.deepEqual(state.lost, [new Date(state.hb.at)], 'its last heartbeat is the key’s, later than the row’s');
  await reconciler.tick();
  t.is(state.reads, 3, 'LOST inside its grace window: every tick passes');
});

test('with a live session every reconciler tick is a whole pass', async (t) => {
  const { state, reconciler } = fleet({ live: true });
  for (let i = 0; i < 3; i++) await reconciler.tick();
  t.is(state.reads, 3);
});

test('the quiet reconciler passes anyway once its recheck time is over', async (t) => {
  const { state, reconciler } = fleet();
  const realNow = Date.now;
  let now = realNow();
  Date.now = () => now;
  try {
    await reconciler.tick();
    state.hb = { ...state.hb, at: now };
    now += 9_000;
    state.hb = { ...state.hb, at: now };
    await reconciler.tick();
    t.is(state.reads, 1);
    now += 1_500;
    state.hb = { ...state.hb, at: now };
    await reconciler.tick();
    t.is(state.reads, 2);
  } finally {
    Date.now = realNow;
  }
});

/** A dispatcher whose survey says whether any group has PENDING sessions; counts passes. */
function dispatcher(pending: { now: boolean }) {
  let surveys = 0;
  const deps = {
    scheduler: {
      survey: async () => {
        surveys++;
        return pending.now ? [{ group: 'default' }] : [];
      },
    },
    sessions: {},
    catalog: {},
    queues: {},
    log: { info() {}, error() {} },
    startLeadMs: 30_000,
    withLease: (fn: () => Promise<void>) => fn(),
  } as unknown as DispatcherDeps;
  class Counted extends Dispatcher {
    protected override async passGroup(): Promise<number> {
      return Infinity;
    }
    /** The safety tick, as its interval calls it; resolves once the passes it caused have ended. */
    async tickNow(): Promise<void> {
      (this as unknown as { onTick(): void }).onTick();
      await this.idle();
    }
    async idle(): Promise<void> {
      const self = this as unknown as { running: Promise<void> | null };
      while (self.running) await self.running;
    }
  }
  const d = new Counted(deps);
  return { d, surveys: () => surveys };
}

test('with no PENDING session the dispatcher’s safety tick rests until told of a change', async (t) => {
  const pending = { now: false };
  const { d, surveys } = dispatcher(pending);
  d.kick();
  await d.idle();
  t.is(surveys(), 1);
  await d.tickNow(); // the kick's own tick: skipped, as before
  await d.tickNow();
  await d.tickNow();
  t.is(surveys(), 1, 'quiet: the ticks pass no more');

  d.elsewhere();
  await d.tickNow();
  t.is(surveys(), 2, 'another manager committed: the next tick passes');
  await d.tickNow();
  t.is(surveys(), 2);

  pending.now = true;
  d.elsewhere();
  await d.tickNow();
  t.is(surveys(), 3);
  await d.tickNow();
  t.is(surveys(), 4, 'a PENDING session left: every tick passes');

  pending.now = false;
  await d.tickNow();
  await d.tickNow();
  t.is(surveys(), 5);
  d.wake(new Date(Date.now() + 3_600_000));
  await d.tickNow();
  t.is(surveys(), 6, 'a session starting later: the next tick passes (it writes the predicate)');
  await d.close();
});
