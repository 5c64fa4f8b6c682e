import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import test from 'ava';
import { Queue, type Job } from 'bullmq';
import { openRedis } from '../../src/queue/redis.js';
import { AgentWorker, hasDrainedFlag } from '../../src/workers/agent/agent-worker.js';
import { testEnv } from '../helpers/env.js';
import { until } from '../helpers/eventually.js';

/**
 * The agent's worker (agent-worker.ts) is BullMQ's with two empty fetches fewer per job. What
 * it must keep: every job taken, at most two fetches per job when jobs come one at a time, and a
 * job held by a worker that died taken again by another once its lock has expired.
 */
const url = testEnv().redisUrl;
const redis = openRedis(url);
test.after.always(() => redis.disconnect());

const prefix = () => `aw-${randomBytes(4).toString('hex')}`;

/** A connection of the worker's own (BullMQ does not close one it was given). */
function connection(t: { teardown: (fn: () => Promise<unknown>) => void }) {
  const c = redis.duplicate();
  t.teardown(() => c.quit());
  return c;
}

/** A plain socket in MONITOR mode: each command's name (lower case) and first argument. */
async function openMonitor(seen: (cmd: string, key: string) => void): Promise<Socket> {
  const u = new URL(url);
  const sock = connect(Number(u.port), u.hostname);
  await new Promise<void>((res, rej) => sock.once('connect', res).once('error', rej));
  let rest = '';
  sock.on('data', (b: Buffer) => {
    const lines = (rest + b.toString('utf8')).split('\r\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^\+\d+\.\d+ \[[^\]]*\] "([^"]*)"(?: "([^"]*)")?/.exec(line);
      if (m) seen(m[1]!.toLowerCase(), m[2] ?? '');
    }
  });
  sock.write('MONITOR\r\n');
  return sock;
}

test.serial(
  'jobs one at a time: each is taken, with two fetches per job and none at completion',
  async (t) => {
    const pfx = prefix();
    const name = 'default/agent-aw1';
    const waitKey = `${pfx}:${name}:wait`;
    const markerKey = `${pfx}:${name}:marker`;
    // The fetches, counted off a MONITOR: every moveToActive (alone or inside moveToFinished)
    // pops the wait list once; every wait for a job is a BZPOPMIN on the marker.
    let fetches = 0;
    let waits = 0;
    const monitor = await openMonitor((cmd, key) => {
      if (cmd === 'rpoplpush' && key === waitKey) fetches++;
      if (cmd === 'bzpopmin' && key === markerKey) waits++;
    });
    t.teardown(() => monitor.destroy());
    const queue = new Queue(name, { connection: redis, prefix: pfx });
    const done: string[] = [];
    const worker = new AgentWorker(
      name,
      async (job: Job) => {
        done.push(String(job.id));
      },
      // No idle re-poll within the test: every fetch counted is one a job caused.
      { connection: connection(t), prefix: pfx, concurrency: 4, drainDelay: 120 },
    );
    t.teardown(async () => {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    });
    t.true(hasDrainedFlag(worker), 'this BullMQ still has the flag AgentWorker sets');

    // At start: one fetch that finds nothing, then a wait on the marker.
    await until('the worker waiting on the marker', () => waits >= 1 || null);
    const n = 5;
    for (let i = 1; i <= n; i++) {
      await queue.add('run-session', { i }, { jobId: `run-${i}`, removeOnComplete: true });
      await until(`job ${i} done`, () => done.length === i || null);
      // Idle again: the job's wake-up and the marker its fetch set again were both waited on.
      await until(`the worker waiting again after job ${i}`, () => waits >= 1 + 2 * i || null);
    }
    t.deepEqual(
      done,
      Array.from({ length: n }, (_, i) => `run-${i + 1}`),
    );
    t.is(fetches, 1 + 2 * n, `fetches: ${fetches} (BullMQ's own worker makes four per job)`);
  },
);

test.serial('a job held by a worker that died is taken again by another once its lock expired', async (t) => {
  const pfx = prefix();
  const name = 'default/agent-aw2';
  const queue = new Queue(name, { connection: redis, prefix: pfx });
  // Short locks and checks, so the test does not wait the agent's two minutes.
  const opts = { prefix: pfx, concurrency: 4, lockDuration: 1_500, stalledInterval: 500, maxStalledCount: 5 };
  const took: string[] = [];
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  const first = new AgentWorker(
    name,
    async (job: Job) => {
      took.push(`first:${String(job.id)}`);
      await held; // never finishes while the worker lives
    },
    { ...opts, connection: connection(t) },
  );
  t.teardown(async () => {
    release();
    await queue.obliterate({ force: true });
    await queue.close();
  });
  await queue.add('run-session', { s: 1 }, { jobId: 'run-held', removeOnComplete: true, attempts: 3 });
  await until('the first worker holding the job', () => took.length === 1 || null);
  // Dies: no more lock renewal, no completion, the job left in `active` with its lock.
  await first.close(true);
  t.is(await queue.getJobState('run-held'), 'active');

  const second = new AgentWorker(
    name,
    async (job: Job) => {
      took.push(`second:${String(job.id)}`);
    },
    { ...opts, connection: connection(t) },
  );
  t.teardown(() => second.close());
  await until('the second worker taking the job', () => took.length === 2 || null);
  t.deepEqual(took, ['first:run-held', 'second:run-held']);
});
