import test from 'ava';
import { Dispatcher, type DispatcherDeps } from '../../src/workers/manager/dispatcher.js';
import { Loop } from '../../src/workers/manager/loop.js';
import { FakeTimers } from '../helpers/fake-timers.js';

const HOUR = 3_600_000;

/** A scheduler store with one scaling group that has PENDING sessions. */
function fakeScheduler(): DispatcherDeps['scheduler'] {
  return { survey: async () => [{ group: 'default' }] } as unknown as DispatcherDeps['scheduler'];
}

function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

/** A dispatcher whose group pass waits for the test, then asks for a wake-up an hour ahead. */
class HeldDispatcher extends Dispatcher {
  readonly entered = gate();
  readonly release = gate();
  protected override async passGroup(): Promise<number> {
    this.entered.open();
    await this.release.wait;
    return Date.now() + HOUR;
  }
}

const deps = (timers?: FakeTimers): DispatcherDeps => ({
  scheduler: fakeScheduler(),
  sessions: {} as DispatcherDeps['sessions'],
  catalog: {} as DispatcherDeps['catalog'],
  queues: {} as DispatcherDeps['queues'],
  log: { info() {}, error() {} },
  startLeadMs: 30_000,
  withLease: (fn) => fn(),
  passPage: 64,
  ...(timers ? { timers } : {}),
});

const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

test.serial('a dispatcher closed during a pass arms no wake-up and leaves no timer', async (t) => {
  const before = timeouts();
  const d = new HeldDispatcher(deps());
  d.start(60_000);
  await d.entered.wait;
  const closing = d.close();
  d.release.open();
  await closing;
  t.is(d.passesStarted, 1);
  t.is(timeouts(), before, 'no Timeout handle left (neither the tick nor the hour-long wake-up)');
});

test.serial('with an injected clock: the pass’s wake-up is never armed after close', async (t) => {
  const clock = new FakeTimers(Date.now());
  const d = new HeldDispatcher(deps(clock));
  d.start(60_000);
  await d.entered.wait;
  const closing = d.close();
  d.release.open();
  await closing;
  t.is(clock.active, 0);
  d.wake(new Date(Date.now() + 2 * HOUR));
  d.kick();
  t.is(clock.active, 0, 'wake and kick after close arm nothing');
});

test.serial('a wake-up 30 days ahead does not fire early, and fires a pass at its time', async (t) => {
  const clock = new FakeTimers(Date.now());
  const d = new HeldDispatcher(deps(clock));
  d.release.open();
  const passes: number[] = [];
  d.onPass((n) => void passes.push(n));
  d.wake(new Date(clock.now() + 30 * 24 * HOUR + 30_000)); // minus the 30 s lead
  t.is(clock.active, 1);
  clock.advance(1);
  await new Promise((r) => setImmediate(r));
  t.deepEqual(passes, [], 'not at once, as setTimeout would with 30 days');
  clock.advance(30 * 24 * HOUR - 2);
  await new Promise((r) => setImmediate(r));
  t.deepEqual(passes, []);
  clock.advance(1);
  for (let i = 0; i < 20 && passes.length === 0; i++) await new Promise((r) => setImmediate(r));
  t.deepEqual(passes, [1]);
  await d.close();
  t.is(clock.active, 0);
});

test.serial('a loop closed during its pass runs no more passes and leaves no timer', async (t) => {
  const before = timeouts();
  const entered = gate();
  const release = gate();
  let runs = 0;
  const loop = new Loop(
    10,
    async () => {
      runs += 1;
      entered.open();
      await release.wait;
    },
    () => {},
  );
  loop.start();
  await entered.wait;
  const closing = loop.close();
  release.open();
  await closing;
  loop.trigger();
  t.is(runs, 1);
  t.is(timeouts(), before);
});

test.serial(
  'kicks during a loop pass cause exactly one more pass; a tick during a pass is dropped',
  async (t) => {
    let runs = 0;
    let release = gate();
    const entered = [gate(), gate()];
    const loop = new Loop(
      60_000,
      async () => {
        entered[runs]?.open();
        runs += 1;
        await release.wait;
      },
      () => {},
    );
    loop.kick();
    await entered[0]!.wait;
    loop.trigger();
    loop.kick();
    loop.kick();
    const first = release;
    release = gate();
    first.open();
    await entered[1]!.wait;
    t.is(runs, 2);
    release.open();
    await loop.close();
    t.is(runs, 2, 'the two kicks coalesced, the trigger was dropped');
  },
);
