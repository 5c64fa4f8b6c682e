import test from 'ava';
import { KeyedSerializer } from '../../src/workers/manager/keyed-serializer.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('tasks of one key run in the order given, even when an earlier one is slower', async (t) => {
  const s = new KeyedSerializer();
  const order: string[] = [];
  await Promise.all([
    s.run('a', async () => {
      await tick(30);
      order.push('a1');
    }),
    s.run('a', async () => {
      order.push('a2');
    }),
    s.run('b', async () => {
      order.push('b1');
    }),
  ]);
  t.deepEqual(order, ['b1', 'a1', 'a2']);
});

test('a failed task does not stop the ones after it, and its error reaches its caller', async (t) => {
  const s = new KeyedSerializer();
  const failing = s.run('k', async () => {
    throw new Error('boom');
  });
  const after = s.run('k', async () => 'ran');
  await t.throwsAsync(failing, { message: 'boom' });
  t.is(await after, 'ran');
});
