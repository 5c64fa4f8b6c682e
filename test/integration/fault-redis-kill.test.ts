import test from 'ava';
import { startRedis, type Service } from '../../src/stack/services.js';
import { startRedisFaultStack, StartCounter, waitAll } from '../helpers/faults.js';
import { batch, type TestStack } from '../helpers/stack.js';

let redis: Service & { dir: string };
let restarted: Service | null = null;
let stack: TestStack;
let starts: StartCounter;
test.before(async () => {
  ({ redis, stack, starts } = await startRedisFaultStack({ durable: true }));
});
test.after.always(async () => {
  starts?.stop();
  await stack?.close();
  await restarted?.stop();
  await redis?.stop();
});

test('Redis SIGKILLed and restarted with AOF during a burst: no session lost, none ran twice', async (t) => {
  t.timeout(600_000); // a cap only: waitAll fails as soon as no session advances
  const accepted: string[] = [];
  let refused = 0;
  let n = 0;
  let killed = false;
  const port = Number(new URL(redis.url).port);
  const submitter = async () => {
    while (n < 80) {
      const i = n++;
      try {
        const r = await stack.client.request<{ sessionId: string }>(
          'POST',
          '/session',
          batch('true', { name: `rk-${i}` }),
        );
        accepted.push(r.sessionId);
      } catch {
        refused += 1;
      }
      if (!killed && accepted.length >= 30) {
        killed = true;
        process.kill(redis.pid, 'SIGKILL');
        await new Promise((r) => setTimeout(r, 1_000));
        restarted = await startRedis(redis.dir, { durable: true, port });
      }
    }
  };
  await Promise.all([submitter(), submitter(), submitter(), submitter()]);
  t.true(killed);
  t.log(`${accepted.length} accepted, ${refused} refused while Redis was away`);
  const views = await waitAll(stack.client, accepted, ['TERMINATED', 'CANCELLED', 'ERROR'], 120_000);
  const bad = [...views.values()].filter((v) => v.status !== 'TERMINATED' || v.result !== 'SUCCESS');
  t.deepEqual(
    bad.map((v) => `${v.sessionName}: ${v.status} ${v.statusInfo}`),
    [],
  );
  await starts.seen(accepted); // Docker reports starts asynchronously
  t.deepEqual(starts.twice(), [], 'no session started twice');
  t.is(accepted.filter((id) => starts.starts.get(id) === 1).length, accepted.length);
});
