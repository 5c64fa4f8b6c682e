import test from 'ava';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { isAlive } from '../../src/stack/process-util.js';
import { startRedis, startSentinel, type Service } from '../../src/stack/services.js';
import { until } from '../helpers/eventually.js';
import { bai } from '../helpers/cli.js';
import { testEnv } from '../helpers/env.js';
import { StartCounter, waitAll } from '../helpers/faults.js';
import { batch, startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * Redis through Sentinel: a primary, a replica and a sentinel started here; the manager and the
 * agent connect with `redis+sentinel://`. The primary is killed (SIGKILL, by pid) in the middle
 * of a burst of submissions; the sentinel promotes the replica, the connections follow it (the
 * agent's as its own ACL user, made on both servers), and every acknowledged session ends, none
 * started twice.
 */

const MASTER = 'bai-ha';
let dir = '';
let primary: Service;
let replica: Service;
let sentinel: Service;
let stack: TestStack;
let starts: StartCounter;
let provisioned: { redisUrl: string; servers: { server: string }[]; skipped: string[] };

function port(url: string): number {
  return Number(/:(\d+)(\/|$)/.exec(url)![1]);
}

async function masterPort(): Promise<number | null> {
  const s = new Redis(port(sentinel.url), '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
  s.on('error', () => {});
  try {
    await s.connect();
    const addr = (await s.call('SENTINEL', 'get-master-addr-by-name', MASTER)) as string[] | null;
    return addr ? Number(addr[1]) : null;
  } finally {
    s.disconnect();
  }
}

test.before(async () => {
  dir = join(testEnv().tmp, `sentinel-${randomBytes(4).toString('hex')}`);
  primary = await startRedis(join(dir, 'primary'));
  replica = await startRedis(join(dir, 'replica'), { replicaOf: port(primary.url) });
  sentinel = await startSentinel(join(dir, 'sentinel'), {
    masterPort: port(primary.url),
    name: MASTER,
    downAfterMs: 1000,
  });
  // The sentinel must know the replica (it learns it from the primary) before it can promote it.
  const s = new Redis(port(sentinel.url), '127.0.0.1');
  s.on('error', () => {});
  try {
    await until(
      'the sentinel to see the replica',
      async () => {
        const replicas = (await s.call('SENTINEL', 'replicas', MASTER)) as string[][];
        return replicas.some((r) => r.includes(String(port(replica.url)))) ? true : null;
      },
      30_000,
    );
  } finally {
    s.disconnect();
  }
  stack = await startTestStack({
    redisUrl: sentinel.url,
    agents: 0,
    agent: { slots: { cpu: 64, mem: 64 * 1024 ** 3 }, concurrency: 8 },
  });
  // The agent on an ACL user of its own, made on the primary and the replica alike.
  const id = stack.agentConfig(1).id;
  const created = await bai(stack, ['admin', 'agent-user', 'create', id, '--json'], {
    env: { REDIS_URL: sentinel.url, BAI_QUEUE_PREFIX: stack.prefix },
  });
  if (created.code !== 0) throw new Error(`agent-user create: ${created.stderr}`);
  provisioned = JSON.parse(created.stdout) as typeof provisioned;
  await stack.addAgent({ id, redisUrl: provisioned.redisUrl });
  starts = new StartCounter(testEnv().dockerHost, `t${stack.id}-`);
  await starts.attached();
});

test.after.always(async () => {
  starts?.stop();
  await stack?.close();
  for (const s of [sentinel, replica, primary]) await s?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test.serial('the primary killed mid-burst: every acknowledged session ends, none runs twice', async (t) => {
  t.is(await masterPort(), port(primary.url));
  t.deepEqual(
    provisioned.servers.map((s) => s.server).sort(),
    [`127.0.0.1:${port(primary.url)}`, `127.0.0.1:${port(replica.url)}`].sort(),
    'the agent user is on the primary and the replica',
  );
  t.regex(provisioned.redisUrl, /^redis\+sentinel:\/\/[^:]+-agent-[^:]+:[^@]+@127\.0\.0\.1:\d+\/bai-ha$/);
  const acknowledged: string[] = [];
  const submit = async (i: number) => {
    try {
      const r = await stack.client.request<{ sessionId: string }>('POST', '/session', batch(`echo ${i}`));
      acknowledged.push(r.sessionId);
    } catch {
      /* not acknowledged: nothing was promised */
    }
  };
  for (let i = 0; i < 12; i++) await submit(i);
  process.kill(primary.pid, 'SIGKILL');
  await until('the primary gone', async () => (isAlive(primary.pid) ? null : true));
  for (let i = 12; i < 30; i++) await submit(i);
  await until(
    'the replica promoted',
    async () => ((await masterPort()) === port(replica.url) ? true : null),
    60_000,
  );
  for (let i = 30; i < 36; i++) await submit(i);
  t.true(acknowledged.length >= 30, `${acknowledged.length} of 36 acknowledged`);

  const ended = await waitAll(stack.client, acknowledged, ['TERMINATED', 'CANCELLED'], 120_000);
  for (const id of acknowledged) {
    const s = ended.get(id)!;
    t.is(s.status, 'TERMINATED', `${id} ${s.statusInfo}`);
    t.is(s.result, 'SUCCESS', `${id} ${s.statusInfo}`);
  }
  t.deepEqual(starts.twice(), [], 'no command started twice');
  t.is(
    acknowledged.filter((id) => starts.starts.get(id) === 1).length,
    acknowledged.length,
    'every acknowledged session started exactly once',
  );
});
