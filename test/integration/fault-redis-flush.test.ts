import test from 'ava';
import { Redis } from 'ioredis';
import { batch, type TestStack } from '../helpers/stack.js';
import { startRedisFaultStack, StartCounter, waitAll } from '../helpers/faults.js';
import type { Service } from '../../src/stack/services.js';

let redis: Service;
let stack: TestStack;
let starts: StartCounter;
test.before(async () => {
  ({ redis, stack, starts } = await startRedisFaultStack());
});
test.after.always(async () => {
  starts?.stop();
  await stack?.close();
  await redis?.stop();
});

test('Redis flushed (FLUSHALL) in the middle of 100 sessions: all end SUCCESS, none ran twice', async (t) => {
  t.timeout(600_000); // a cap only: waitAll fails as soon as no session advances
  const ids: string[] = [];
  const submit = async (from: number, to: number) => {
    for (let i = from; i < to; i += 10) {
      const made = await Promise.all(
        Array.from({ length: Math.min(10, to - i) }, (_, k) =>
          stack.client.request<{ sessionId: string }>(
            'POST',
            '/session',
            batch('true', { name: `flush-${i + k}` }),
          ),
        ),
      );
      ids.push(...made.map((m) => m.sessionId));
    }
  };
  await submit(0, 50);
  // Let some run, some wait in queues, some report: then lose everything Redis held.
  await starts.until((s) => s.size >= 10);
  const r = new Redis(redis.url);
  await r.flushall();
  const startedBeforeFlush = starts.starts.size;
  await r.quit();
  await submit(50, 100);
  t.true(
    startedBeforeFlush < 50,
    `the flush came while sessions were still queued (${startedBeforeFlush} had started)`,
  );

  const views = await waitAll(stack.client, ids, ['TERMINATED', 'CANCELLED', 'ERROR'], 120_000);
  const bad = [...views.values()].filter((v) => v.status !== 'TERMINATED' || v.result !== 'SUCCESS');
  t.deepEqual(
    bad.map((v) => `${v.sessionName}: ${v.status} ${v.statusInfo}`),
    [],
    'every session ends TERMINATED/SUCCESS',
  );
  // Docker reports starts asynchronously: wait for every session's start to arrive.
  await starts.seen(ids);
  t.deepEqual(starts.twice(), [], 'no container started twice');
  t.is(ids.filter((id) => starts.starts.get(id) === 1).length, 100, 'each session started exactly once');
});
