import test from 'ava';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { provisionAgentUser, agentRedisUrl } from '../../src/queue/agent-acl.js';
import { agentQueueName, heartbeatKey, reportStreamKey, runJobId } from '../../src/queue/names.js';
import type { KernelExitedReport, RunSessionJob } from '../../src/queue/payloads.js';
import { openRedis } from '../../src/queue/redis.js';
import type { Logger } from '../../src/log/logger.js';
import { until } from '../helpers/eventually.js';
import { bai } from '../helpers/cli.js';
import { ownRedis } from '../helpers/faults.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';
import { reportApplied, sendReport } from '../helpers/reports.js';

/**
 * Agents on other hosts, each with a Redis ACL user of its own (a real Redis with ACLs): an
 * agent reads only its own queue, writes only its own reports queue, and the manager applies a
 * report only from the agent the session was placed on.
 */

const REGISTRY = '127.0.0.1:9'; // nothing listens: a pull fails at once
const REGISTRY_PASSWORD = 'registry-pw-7f3a9c1e';

const logged: { level: 'info' | 'error'; msg: string; extra: Record<string, unknown> }[] = [];
const log: Logger = {
  info: (msg, extra = {}) => logged.push({ level: 'info', msg, extra }),
  error: (msg, extra = {}) => logged.push({ level: 'error', msg, extra }),
};

let redis: Awaited<ReturnType<typeof ownRedis>>;
let stack: TestStack;
let admin: Redis;
let asB: Redis;
let idA = '';
let idB = '';

test.before(async () => {
  redis = await ownRedis();
  stack = await startTestStack({ redisUrl: redis.url, agents: 0, log });
  admin = openRedis(redis.url);
  idA = stack.agentConfig(1).id;
  idB = stack.agentConfig(2).id;
  // A through the operator's command, B through the function it runs.
  const created = await bai(stack, ['admin', 'agent-user', 'create', idA, '--json'], {
    env: { REDIS_URL: redis.url, BAI_QUEUE_PREFIX: stack.prefix },
  });
  if (created.code !== 0) throw new Error(`agent-user create: ${created.stderr}`);
  const urlA = (JSON.parse(created.stdout) as { redisUrl: string }).redisUrl;
  const urlB = agentRedisUrl(redis.url, await provisionAgentUser(admin, stack.prefix, idB));
  await stack.addAgent({ id: idA, redisUrl: urlA });
  // B in a scaling group of its own: every session of the test is placed on A.
  await stack.addAgent({ id: idB, redisUrl: urlB, scalingGroup: 'group-b' });
  asB = openRedis(urlB, { maxRetriesPerRequest: 1 });
  asB.on('error', () => {});
  const db = stack.database.db;
  await db('container_registries').insert({
    hostname: REGISTRY,
    url: `http://${REGISTRY}`,
    username: 'puller',
    password: REGISTRY_PASSWORD,
  });
  await db('images').insert({ name: `${REGISTRY}/python:t`, registry: REGISTRY });
  await db('domains')
    .where({ name: 'default' })
    .update({ allowed_registries: db.raw(`allowed_registries || ?::jsonb`, [JSON.stringify([REGISTRY])]) });
});

test.after.always(async () => {
  asB?.disconnect();
  admin?.disconnect();
  await stack?.close();
  await redis?.stop();
});

test.serial('an agent on its own Redis user runs a session from submit to SUCCESS', async (t) => {
  const { sessionId } = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('echo hello from A'),
  );
  const s = await waitForStatus(stack.client, sessionId);
  t.is(s.status, 'TERMINATED');
  t.is(s.result, 'SUCCESS');
  t.is(s.agentId, idA);
  const logs = await stack.client.request<{ result: { logs: string } }>('GET', `/session/${sessionId}/logs`);
  t.is(logs.result.logs, 'hello from A\n');
});

test.serial('agent B cannot read A’s queue or its registry password, nor write as A', async (t) => {
  const queueA = new Queue(agentQueueName('default', idA), { connection: admin, prefix: stack.prefix });
  await queueA.pause(); // the run job stays in A's queue, where B might look for it
  try {
    const { sessionId } = await stack.client.request<{ sessionId: string }>('POST', '/session', {
      ...batch('echo never'),
      image: `${REGISTRY}/python:t`,
    });
    const job = await until('the run job in A’s queue', async () => {
      const j = await queueA.getJob(runJobId(sessionId, 1));
      return j ?? null;
    });
    const data = job.data as RunSessionJob;
    t.is(data.registryAuth?.password, REGISTRY_PASSWORD, 'the job does carry the password');

    const jobKey = `${stack.prefix}:${agentQueueName('default', idA)}:${job.id}`;
    await t.throwsAsync(asB.hgetall(jobKey), { message: /NOPERM/ });
    await t.throwsAsync(asB.lrange(`${stack.prefix}:${agentQueueName('default', idA)}:paused`, 0, -1), {
      message: /NOPERM/,
    });
    await t.throwsAsync(asB.scan('0', 'MATCH', '*'), { message: /NOPERM/ });
    await t.throwsAsync(asB.keys('*'), { message: /NOPERM/ });
    const viaBull = new Queue(agentQueueName('default', idA), { connection: asB, prefix: stack.prefix });
    viaBull.on('error', () => {});
    await t.throwsAsync(viaBull.getJob(job.id!), { message: /NOPERM/ });
    await viaBull.close();

    // Nothing B can read holds the password: every key there is, read as B.
    const keys = await admin.keys('*');
    let readable = 0;
    for (const k of keys) {
      const type = await admin.type(k);
      // Gone since KEYS listed it (the manager deletes a report's seen-mark once it is applied,
      // a lease or a heartbeat expires): there is nothing left for B to read.
      if (type === 'none') continue;
      const read: Record<string, () => Promise<unknown>> = {
        string: () => asB.get(k),
        hash: () => asB.hgetall(k),
        list: () => asB.lrange(k, 0, -1),
        set: () => asB.smembers(k),
        zset: () => asB.zrange(k, 0, -1),
        stream: () => asB.xrange(k, '-', '+'),
      };
      const value = await read[type]!().catch((err: unknown) => {
        t.regex(String(err), /NOPERM/, k);
        return null;
      });
      if (value !== null) readable++;
      t.false(JSON.stringify(value).includes(REGISTRY_PASSWORD), `${k} is readable by B with the password`);
    }
    t.true(readable > 0, 'B reads its own keys');

    // B cannot write into A's reports stream nor A's heartbeat.
    const started = { agentId: idA, scalingGroup: 'default', slots: {}, version: 'x', addr: '' };
    await t.throwsAsync(
      sendReport(asB, stack.prefix, idA, { name: 'agent-started', data: started }, 'as-a'),
      { message: /NOPERM/ },
    );
    await t.throwsAsync(asB.xadd(reportStreamKey(stack.prefix, idA), '*', 'n', 'agent-started'), {
      message: /NOPERM/,
    });
    await t.throwsAsync(asB.set(heartbeatKey(stack.prefix, idA), '{}'), { message: /NOPERM/ });

    await queueA.resume();
    const s = await waitForStatus(stack.client, sessionId);
    t.is(s.status, 'CANCELLED');
    t.is(s.statusInfo, 'image-pull-failed');
  } finally {
    await queueA.resume().catch(() => {});
    await queueA.close();
  }
});

test.serial(
  'a report forged by agent B for a session placed on A changes nothing and is logged',
  async (t) => {
    const { sessionId } = await stack.client.request<{ sessionId: string }>(
      'POST',
      '/session',
      batch('echo started; sleep 60'),
    );
    const running = await waitForStatus(stack.client, sessionId, ['RUNNING']);
    t.is(running.agentId, idA);
    const before = await stack.database.db('session_events').where({ session_id: sessionId }).count('* as c');

    // B's only channel to the manager is its own reports stream: once in A's name, once in its own.
    const forged = (agentId: string): KernelExitedReport => ({
      agentId,
      sessionId,
      attempt: 1,
      kernelId: running.kernels[0]!.kernelId,
      exitCode: 0,
      timedOut: false,
      oomKilled: false,
      stoppedFor: null,
      logs: 'forged output',
      startedAt: Date.now() - 1000,
      finishedAt: Date.now(),
    });
    const entries = [
      await sendReport(asB, stack.prefix, idB, { name: 'kernel-exited', data: forged(idA) }, 'forged-as-a'),
      await sendReport(asB, stack.prefix, idB, { name: 'kernel-exited', data: forged(idB) }, 'forged-as-b'),
    ];
    const refused = (reason: string) =>
      logged.find(
        (l) =>
          l.level === 'error' &&
          l.msg === 'report refused' &&
          l.extra.reason === reason &&
          l.extra.sessionId === sessionId,
      ) ?? null;
    const mismatch = await until('the impersonation logged', async () => refused('sender-mismatch'));
    t.like(mismatch.extra, { from: idB, claimed: idA });
    const notHere = await until('the report for A’s session logged', async () =>
      refused('not-placed-on-sender'),
    );
    t.like(notHere.extra, { from: idB, placedOn: idA });
    await until('both forged reports consumed', async () => {
      const done = await Promise.all(entries.map((e) => reportApplied(admin, stack.prefix, idB, e)));
      return done.every(Boolean) ? true : null;
    });
    // The manager answers a report about a session the sender does not hold with a cleanup
    // to the sender: B's containers of it (none) go, A's container stays.
    const jobsB = new Queue(agentQueueName('group-b', idB), { connection: admin, prefix: stack.prefix });
    await until('B’s queue drained', async () => {
      const c = await jobsB.getJobCounts('wait', 'active', 'delayed', 'prioritized');
      return Object.values(c).every((n) => n === 0) ? true : null;
    });
    await jobsB.close();

    const after = await stack.client.request<{ status: string; kernels: { exitCode: number | null }[] }>(
      'GET',
      `/session/${sessionId}`,
    );
    t.is(after.status, 'RUNNING');
    t.is(after.kernels[0]!.exitCode, null);
    const events = await stack.database.db('session_events').where({ session_id: sessionId }).count('* as c');
    t.deepEqual(events, before, 'no event was recorded');
    const kernel = (await stack.database.db('kernels').where({ session_id: sessionId }).first()) as {
      logs: string | null;
    };
    t.is(kernel.logs, null);

    await stack.client.request('DELETE', `/session/${sessionId}`);
    const ended = await waitForStatus(stack.client, sessionId);
    t.is(ended.status, 'TERMINATED');
    t.is(ended.statusInfo, 'user-requested');
  },
);
