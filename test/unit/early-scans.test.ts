import test from 'ava';
import { capacityPredicate } from '../../src/domain/predicates.js';
import type { RunnableSession } from '../../src/persistence/placement-commit.js';
import type { RunnableScan } from '../../src/persistence/runnable-scan.js';
import { EarlyScans } from '../../src/workers/manager/early-scans.js';
import { fakeDispatcher as dispatcherOn, runnableSession, surveyOf } from '../helpers/fake-dispatcher.js';

const session = (id: string): RunnableSession => runnableSession(id);
const noRoom = [capacityPredicate(1)];
const noAgent = [capacityPredicate(0)];

test('a scan is started for each expected group, taken once, then expected no more', async (t) => {
  const early = new EarlyScans();
  const started: string[] = [];
  const scan = async (group: string): Promise<RunnableScan> => {
    started.push(group);
    return { rows: [session(`${group}-1`)], total: 1, more: false };
  };
  early.expect('a');
  early.expect('b');
  early.expect('a');
  early.start(scan);
  t.deepEqual(started, ['a', 'b']);
  t.is((await early.take('a', 1, noRoom))?.rows[0]?.id, 'a-1');
  t.is(await early.take('a', 1, noRoom), null, 'taken once');
  t.is(await early.take('c', 1, noRoom), null, 'none started for c');
  await early.settle();
  t.is(await early.take('b', 1, noRoom), null, 'settled scans are gone');
  early.start(scan);
  t.deepEqual(started, ['a', 'b'], 'a start without new expectations starts nothing');
});

test('an early scan is not used when its waiting predicate, a placement before it or its own failure says so', async (t) => {
  const early = new EarlyScans();
  const waitings: string[] = [];
  const scan = async (group: string, waiting: readonly { msg: string }[]): Promise<RunnableScan> => {
    waitings.push(waiting[0]!.msg);
    if (group === 'broken') throw new Error('connection lost');
    return { rows: [], total: 0, more: false };
  };
  for (const g of ['none', 'placed', 'broken']) early.expect(g);
  early.start(scan);
  t.deepEqual(waitings, [noRoom[0]!.msg, noRoom[0]!.msg, noRoom[0]!.msg], 'guessed: agents with no room');
  t.is(await early.take('none', 0, noAgent), null, 'the group has no agent: its predicate differs');
  t.is(await early.take('broken', 1, noRoom), null, 'a failed scan is done again');
  early.placed();
  t.is(await early.take('placed', 1, noRoom), null, 'a placement of the pass came first');
  // The survey said the group has no agent: the next guess follows it.
  early.expect('none');
  early.start(scan);
  t.is(waitings[3], noAgent[0]!.msg);
  t.deepEqual(
    await early.take('none', 0, noAgent),
    { rows: [], total: 0, more: false },
    'a new start is not stale',
  );
});

test("an early scan is not used when the survey put sessions in its group's queue", async (t) => {
  const early = new EarlyScans();
  const scan = async (group: string): Promise<RunnableScan> => ({
    rows: [session(`${group}-1`)],
    total: 1,
    more: false,
  });
  for (const g of ['joined', 'plain']) early.expect(g);
  early.start(scan);
  t.is(await early.take('joined', 1, noRoom, true), null, 'dependents met by the survey: scanned again');
  t.is((await early.take('plain', 1, noRoom, false))?.rows[0]?.id, 'plain-1');
});

/** One group `g`, one agent of one cpu; a scan reads s1, and s2 when `waiting`; the order of what happens. */
function fakeDispatcher(opts: { waiting: boolean }) {
  const events: string[] = [];
  let scanned!: () => void;
  const scanBegun = new Promise<void>((r) => (scanned = r));
  const d = dispatcherOn({
    survey: async () => {
      events.push('survey');
      // Answers once a scan has begun (or after 2 s, so a sequential pass fails the test rather than hangs).
      await Promise.race([scanBegun, new Promise((r) => setTimeout(r, 2000))]);
      events.push('survey answered');
      return [surveyOf('g', 1)];
    },
    runnable: async (group) => {
      events.push(`scan ${group}`);
      scanned();
      // s2 does not fit beside s1: it waits for capacity, and reserves the agent.
      const rows = opts.waiting ? [session('s1'), session('s2')] : [session('s1')];
      return { rows, total: rows.length, more: false };
    },
    onPlace: (list) => events.push(`place ${list.map((s) => s.id).join(',')}`),
  });
  return { d, events };
}

test('a submit names its group: the pass scans it beside its survey, once', async (t) => {
  const { d, events } = fakeDispatcher({ waiting: false });
  await new Promise<void>((resolve) => {
    d.onPass(() => resolve());
    d.wake(null, ['g']);
  });
  t.deepEqual(events, ['scan g', 'survey', 'survey answered', 'place s1']);
  await d.close();
});

test('a pass that leaves sessions waiting for capacity scans their group early in the next pass', async (t) => {
  const { d, events } = fakeDispatcher({ waiting: true });
  const passes: number[] = [];
  d.onPass((n) => void passes.push(n));
  await d.pass(); // no submit named a group: the scan comes after the survey
  t.deepEqual(events.splice(0), ['survey', 'survey answered', 'scan g', 'place s1']);
  await d.pass(); // s1's group still has a session waiting: scanned beside the survey
  t.deepEqual(events.splice(0), ['scan g', 'survey', 'survey answered', 'place s1']);
  t.deepEqual(passes, [1, 2]);
  await d.close();
});

test('a placement in one group makes the next group scan again: a keypair’s room is not used twice', async (t) => {
  // One keypair with room for one session; a session of it waits in each of two groups, one agent each.
  let room = 1;
  const scans: string[] = [];
  const placed: string[] = [];
  const d = dispatcherOn({
    survey: async () => [surveyOf('A', 4), surveyOf('B', 4)],
    // As the scan's SQL does: the keypair's sessions beyond its room are not runnable.
    runnable: async (name) => {
      scans.push(name);
      const rows = room > 0 ? [session(`s-${name}`)] : [];
      return { rows, total: rows.length, more: false };
    },
    onPlace: (list) => {
      room -= list.length;
      placed.push(...list.map((s) => s.id));
    },
  });
  await new Promise<void>((resolve) => {
    d.onPass(() => resolve());
    d.wake(null, ['A', 'B']);
  });
  t.deepEqual(scans, ['A', 'B', 'B'], 'both scanned early; B again after A’s placement');
  t.deepEqual(placed, ['s-A'], 'B’s early scan, which saw the room A used, placed nothing');
  t.is(room, 0);
  await d.close();
});
