import test from 'ava';
import { AdmissionReads, answerOf } from '../../src/api/admission-reads.js';
import type { AdmissionFacts } from '../../src/persistence/admission-store.js';

const agent = (id: string, group: string) => ({
  id,
  scaling_group: group,
  architecture: 'x86_64',
  available_slots: { cpu: 4 },
});

const turn = () => new Promise<void>((r) => setImmediate(r));

test('answerOf: the group’s agents, the keypair’s pending count only when asked (absent: 0)', (t) => {
  const facts: AdmissionFacts = {
    agents: new Map([['default', [agent('a1', 'default')]]]),
    pending: new Map([['AK1', 3]]),
  };
  t.deepEqual(answerOf({ scalingGroup: 'default', accessKey: 'AK1' }, facts), {
    agents: [agent('a1', 'default')],
    pending: 3,
  });
  t.deepEqual(answerOf({ scalingGroup: 'gpu', accessKey: 'AK2' }, facts), { agents: [], pending: 0 });
  t.deepEqual(answerOf({ scalingGroup: 'default', accessKey: null }, facts).pending, null);
});

test('asks made while a read is under way share the next read, each read begun after its asks', async (t) => {
  const reads: { groups: readonly string[]; keys: readonly string[] }[] = [];
  const release: (() => void)[] = [];
  let pending = 0;
  const reader = new AdmissionReads(async (groups, keys) => {
    reads.push({ groups, keys });
    const seen = ++pending;
    await new Promise<void>((r) => release.push(r));
    return {
      agents: new Map(groups.map((g) => [g, [agent(`${g}-1`, g)]])),
      pending: new Map(keys.map((k) => [k, seen])),
    };
  });
  const first = reader.read({ scalingGroup: 'default', accessKey: 'AK1' });
  await turn();
  t.is(reads.length, 1, 'a lone ask is read at once');
  const later = [
    reader.read({ scalingGroup: 'default', accessKey: 'AK1' }),
    reader.read({ scalingGroup: 'gpu', accessKey: null }),
    reader.read({ scalingGroup: 'default', accessKey: 'AK2' }),
  ];
  await turn();
  t.is(reads.length, 1, 'asks made during a read wait for it to end');
  release.shift()!();
  t.deepEqual(await first, { agents: [agent('default-1', 'default')], pending: 1 });
  for (let i = 0; i < 10 && reads.length < 2; i++) await turn();
  t.is(reads.length, 2, 'then go together, in one read');
  t.deepEqual(reads[1], { groups: ['default', 'gpu'], keys: ['AK1', 'AK2'] });
  release.shift()!();
  const answers = await Promise.all(later);
  t.deepEqual(
    answers.map((a) => a.pending),
    [2, null, 2],
    'the later asks see the second read, begun after they were made',
  );
  t.deepEqual(answers[1]!.agents, [agent('gpu-1', 'gpu')]);
});

test('a failed batch is read again ask by ask; a failing ask alone gets its error', async (t) => {
  const reader = new AdmissionReads(async (groups) => {
    if (groups.includes('broken')) throw new Error('database away');
    return { agents: new Map(), pending: new Map() };
  });
  const [ok, bad] = await Promise.allSettled([
    reader.read({ scalingGroup: 'default', accessKey: null }),
    reader.read({ scalingGroup: 'broken', accessKey: null }),
  ]);
  t.deepEqual(ok, { status: 'fulfilled', value: { agents: [], pending: null } });
  t.is(bad.status, 'rejected');
});
