import test from 'ava';
import { ScheduleTicker } from '../../src/workers/manager/schedule-ticker.js';
import type { ScheduleRow } from '../../src/persistence/schedule-rows.js';
import { FakeTimers } from '../helpers/fake-timers.js';
import { eventually } from '../helpers/eventually.js';
import { quietLog } from '../helpers/stack.js';

/** A clock the test moves that also counts how often the ticker looked at it (once a pass). */
class CountingClock extends FakeTimers {
  looks = 0;
  override now(): number {
    this.looks++;
    return super.now();
  }
}

/** The schedules table in memory (our own interface, not PostgreSQL), counting reads. */
class Schedules {
  reads = 0;
  next: Date | null = null;
  async dueAndNext(): Promise<{ due: ScheduleRow[]; next: Date | null }> {
    this.reads++;
    return { due: [], next: this.next };
  }
  async earliest(): Promise<Date | null> {
    this.reads++;
    return this.next;
  }
}

function ticker(schedules: Schedules, clock: CountingClock) {
  return new ScheduleTicker({
    schedules,
    firing: { fireDue: async () => undefined } as never,
    log: quietLog,
    withLease: async (fn) => fn(),
    tickMs: 5,
    timers: clock,
  });
}

/** Waits for `n` more passes of the ticker's safety tick (each looks at the clock first). */
async function passes(clock: CountingClock, n: number): Promise<void> {
  const from = clock.looks;
  await eventually(() => clock.looks >= from + n, { intervalMs: 5, message: `${n} passes` });
}

test('with no schedule, the safety tick reads only every 10 s; a wake or kick reads at once', async (t) => {
  const schedules = new Schedules();
  const clock = new CountingClock();
  const tk = ticker(schedules, clock);
  t.teardown(() => tk.close());
  tk.start();
  await eventually(() => schedules.reads === 1);
  await passes(clock, 10);
  t.is(schedules.reads, 1, 'no schedule: the ticks do not read');
  clock.advance(10_000);
  await eventually(() => schedules.reads === 2, { message: 'the quiet recheck' });
  await passes(clock, 10);
  t.is(schedules.reads, 2);
  tk.kick();
  await eventually(() => schedules.reads === 3, { message: 'a kick' });
  await passes(clock, 10);
  t.is(schedules.reads, 3, 'still none: quiet again');
  // A schedule created here or elsewhere (told through Redis) wakes it, even for a later instant.
  schedules.next = new Date(clock.now() + 60_000);
  tk.wake(schedules.next);
  await eventually(() => schedules.reads >= 4, { message: 'a wake' });
  // Now there is a schedule: every tick reads again (a pass that reads looks at the clock a
  // few times, a skipped one once).
  const before = schedules.reads;
  await passes(clock, 50);
  t.true(schedules.reads >= before + 3, `every tick reads (${schedules.reads})`);
});

test('a schedule left (suspended or not) keeps the 1 s tick reading; none left makes it quiet', async (t) => {
  const schedules = new Schedules();
  schedules.next = new Date(Date.UTC(2026, 0, 2));
  const clock = new CountingClock();
  const tk = ticker(schedules, clock);
  t.teardown(() => tk.close());
  tk.start();
  await passes(clock, 50);
  t.true(schedules.reads >= 3, `every tick reads (${schedules.reads})`);
  schedules.next = null;
  // A pass under way may have read the schedule before it went; the first to read none is quiet.
  await passes(clock, 10);
  const quiet = schedules.reads;
  await passes(clock, 10);
  t.is(schedules.reads, quiet, 'quiet once none is left');
});
