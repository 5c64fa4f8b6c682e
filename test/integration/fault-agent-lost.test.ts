import test from 'ava';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { ensurePythonImage } from '../../src/stack/python-image.js';
import { startDockerd, type Service } from '../../src/stack/services.js';
import { testEnv } from '../helpers/env.js';
import { ChildBai, waitAll } from '../helpers/faults.js';
import { batch, startTestStack, waitForAgents, waitForStatus, type TestStack } from '../helpers/stack.js';

const AGENT_TIMEOUT_MS = 5_000;
const GRACE_MS = 2_000;
let engine: Service;
let stack: TestStack;
let lostAgent: ChildBai;
test.before(async () => {
  const env = testEnv();
  // A second Docker engine for the agent that will die with it.
  engine = await startDockerd(join(env.tmp, `d2-${randomInt(1e9)}`), { poolOctet: 150 + randomInt(40) });
  ensurePythonImage(engine.url);
  stack = await startTestStack({
    agents: 0,
    manager: { agentTimeoutMs: AGENT_TIMEOUT_MS, agentGraceMs: GRACE_MS },
  });
});
test.after.always(async () => {
  await lostAgent?.stop();
  await stack?.close();
  await engine?.stop();
});

test('an agent SIGKILLed with its engine stopped: its sessions end agent-lost, or run again elsewhere when they asked', async (t) => {
  t.timeout(600_000); // a cap only: waitAll fails as soon as no session advances
  const cfg = stack.agentConfig(2, { dockerHost: engine.url });
  lostAgent = new ChildBai(['agent'], {
    BAI_AGENT_ID: cfg.id,
    REDIS_URL: cfg.redisUrl,
    BAI_QUEUE_PREFIX: cfg.queuePrefix,
    DOCKER_HOST: engine.url,
    BAI_AGENT_CPU: '8',
    BAI_AGENT_MEM: String(8 * 1024 ** 3),
    BAI_AGENT_NETWORK_MODE: 'default',
    BAI_STORAGE_ROOT: cfg.storageRoot,
    BAI_HEARTBEAT_MS: '500',
  });
  await lostAgent.ready();
  await waitForAgents(stack, 1);

  // The first attempt of each runs until its engine stops with the agent (however long the
  // setup takes on a loaded machine); a second attempt, on the survivor, ends at once.
  const job = 'if [ "$BAI_ATTEMPT" = 1 ]; then sleep 3600; fi';
  const create = (name: string, extra: Record<string, unknown> = {}) =>
    stack.client
      .request<{ sessionId: string }>('POST', '/session', batch(job, { name, ...extra }))
      .then((r) => r.sessionId);
  const plain = [await create('lost-0'), await create('lost-1'), await create('lost-2')];
  const retry = { max_attempts: 2, backoff: 'fixed', delay: 1, on: ['agent-lost'] };
  const retried = [await create('again-0', { retry }), await create('again-1', { retry })];
  for (const id of [...plain, ...retried]) await waitForStatus(stack.client, id, ['RUNNING'], 60_000);

  // A healthy agent joins on the main engine; then the first dies with its engine.
  await stack.addAgent();
  const survivor = stack.agentConfig(1).id;
  lostAgent.kill('SIGKILL');
  await lostAgent.exited();
  const killedAt = Date.now();
  await engine.stop();

  const views = await waitAll(stack.client, plain, ['TERMINATED', 'CANCELLED'], 60_000);
  for (const v of views.values()) {
    t.is(v.statusInfo, 'agent-lost', v.sessionName);
    t.is(v.result, 'FAILURE');
    const endedAfter = Date.parse(v.terminationTime as string) - killedAt;
    // Order, not speed: never before the agent timeout and grace window have passed (counted
    // from its last heartbeat, at most one heartbeat period before the kill).
    t.true(
      endedAfter >= AGENT_TIMEOUT_MS + GRACE_MS - 1_000,
      `${v.sessionName} ended ${endedAfter} ms after the kill`,
    );
  }
  const agents = (await stack.database.db('agents').where({ id: cfg.id }).first()) as { status: string };
  t.is(agents.status, 'LOST');

  for (const id of retried) {
    const v = await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 90_000);
    t.is(v.result, 'SUCCESS', `${v.sessionName}: ${v.statusInfo}`);
    t.is(v.agentId, survivor, 'the second attempt ran on the surviving agent');
    t.is(v.attempt, 2);
    const history = v.attempts;
    t.is(history.length, 2, JSON.stringify(history));
    t.like(history[0], {
      attempt: 1,
      agentId: cfg.id,
      reason: 'agent-lost',
      exitCode: null,
      result: 'FAILURE',
    });
    t.like(history[1], { attempt: 2, agentId: survivor, exitCode: 0, result: 'SUCCESS' });
    const s = await stack.client.request<SessionWire>('GET', `/session/${id}`);
    t.is(s.kernels[0]?.exitCode, 0);
  }
});
