import test from 'ava';
import { GroupCommit } from '../../src/api/group-commit.js';

/** A commit the test ends by hand: records each group, resolves when told. */
function manualCommit() {
  const groups: number[][] = [];
  const pending: { items: number[]; resolve: (o: string[]) => void; reject: (e: unknown) => void }[] = [];
  const commit = (items: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      groups.push(items);
      pending.push({ items, resolve, reject });
    });
  const finishNext = () => {
    const p = pending.shift()!;
    p.resolve(p.items.map((i) => `ok ${i}`));
  };
  return { groups, pending, commit, finishNext };
}

/** Lets setImmediate callbacks and promise continuations run. */
const turn = () => new Promise<void>((r) => setImmediate(r));

test('a lone item goes at once, in a group of its own', async (t) => {
  const m = manualCommit();
  const g = new GroupCommit<number, string>({ commit: m.commit, single: async (i) => `single ${i}` });
  const out = g.submit(1);
  await turn();
  t.deepEqual(m.groups, [[1]], 'committed without waiting for company');
  m.finishNext();
  t.is(await out, 'ok 1');
});

test('items arriving during a commit go together in the next one, each answered after its own commit', async (t) => {
  const m = manualCommit();
  const g = new GroupCommit<number, string>({ commit: m.commit, single: async (i) => `single ${i}` });
  const answered: string[] = [];
  const first = g.submit(0).then((o) => answered.push(o));
  await turn();
  const rest = [1, 2, 3, 4].map((i) => g.submit(i).then((o) => answered.push(o)));
  await turn();
  t.deepEqual(m.groups, [[0]], 'the next group waits for the commit under way');
  t.deepEqual(answered, []);
  m.finishNext();
  await first;
  await turn();
  t.deepEqual(m.groups, [[0], [1, 2, 3, 4]], 'one group for all that arrived meanwhile');
  t.deepEqual(answered, ['ok 0'], 'no answer before its group committed');
  m.finishNext();
  await Promise.all(rest);
  t.deepEqual(answered, ['ok 0', 'ok 1', 'ok 2', 'ok 3', 'ok 4']);
  t.is(g.groups, 2);
  t.is(g.items, 5);
});

test('a failed group sends its items one by one: each gets its own answer or error', async (t) => {
  const singles: number[] = [];
  const failures: number[] = [];
  const g = new GroupCommit<number, string>({
    commit: async (items) => {
      if (items.length > 1) throw new Error('unique violation');
      return items.map((i) => `ok ${i}`);
    },
    single: async (i) => {
      singles.push(i);
      if (i === 2) throw new Error(`item ${i} conflicts`);
      return `single ${i}`;
    },
    onGroupFailed: (_err, size) => failures.push(size),
  });
  // Three in one turn: one group of three.
  const outs = [1, 2, 3].map((i) =>
    g.submit(i).then(
      (o) => o,
      (e: Error) => `error: ${e.message}`,
    ),
  );
  t.deepEqual(await Promise.all(outs), ['single 1', 'error: item 2 conflicts', 'single 3']);
  t.deepEqual(singles, [1, 2, 3], 'started in arrival order');
  t.deepEqual(failures, [3]);
});

test('a group of one that fails rejects with its own error (no second try)', async (t) => {
  let singles = 0;
  const g = new GroupCommit<number, string>({
    commit: async () => {
      throw new Error('name taken');
    },
    single: async () => {
      singles++;
      return 'single';
    },
  });
  await t.throwsAsync(g.submit(1), { message: 'name taken' });
  t.is(singles, 0);
});

test('items sharing a key never share a group; groups are capped at maxBatch', async (t) => {
  const m = manualCommit();
  const g = new GroupCommit<number, string>({
    commit: m.commit,
    single: async (i) => `single ${i}`,
    maxBatch: 3,
    keyOf: (i) => (i % 10 === 7 ? 'same key' : null),
  });
  const outs = [7, 1, 17, 2, 3, 4, 27].map((i) => g.submit(i));
  for (let n = 0; n < 20; n++) {
    await turn();
    if (m.pending.length > 0) m.finishNext();
  }
  await Promise.all(outs);
  t.deepEqual(m.groups, [[7, 1, 2], [17, 3, 4], [27]]);
  for (const grp of m.groups) t.true(grp.filter((i) => i % 10 === 7).length <= 1);
});

test('a commit answering the wrong number of outcomes fails the group rather than misanswering', async (t) => {
  const g = new GroupCommit<number, string>({
    commit: async () => ['only one'],
    single: async (i) => `single ${i}`,
  });
  t.deepEqual(await Promise.all([g.submit(1), g.submit(2)]), ['single 1', 'single 2']);
});
