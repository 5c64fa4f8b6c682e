import test from 'ava';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { agentQueueName } from '../../src/queue/names.js';
import { startAgent } from '../../src/workers/agent/agent-process.js';
import { batch, quietLog, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
test.before(async () => {
  // A long agent timeout: the agent is away on purpose while its job is dropped.
  stack = await startTestStack({ manager: { agentTimeoutMs: 60_000 } });
});
test.after.always(async () => {
  await stack?.close();
});

test('a session committed SCHEDULED whose run job never reached its agent is re-enqueued and runs once', async (t) => {
  t.timeout(180_000); // generous: CI machines are shared and slow
  const agentId = stack.agentConfig(1).id;
  await stack.agents[0]!.close(); // nobody takes jobs: the placed job waits in the queue
  const { sessionId } = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('echo repaired', { name: 'lost-enqueue' }),
  );
  await waitForStatus(stack.client, sessionId, ['SCHEDULED'], 20_000);

  // The state a crash between commit and enqueue leaves: SCHEDULED in PostgreSQL, no job in Redis.
  const redis = new Redis(stack.managerConfig.redisUrl, { maxRetriesPerRequest: null });
  const q = new Queue(agentQueueName('default', agentId), { connection: redis, prefix: stack.prefix });
  await q.obliterate({ force: true });
  t.is(await q.count(), 0);
  await q.close();
  await redis.quit();

  // The agent comes back; only the reconciler can tell it about the session.
  stack.agents.push(await startAgent(stack.agentConfig(1), quietLog));
  const v = await waitForStatus(stack.client, sessionId, ['TERMINATED', 'CANCELLED'], 45_000);
  t.is(v.status, 'TERMINATED');
  t.is(v.result, 'SUCCESS', `${v.statusInfo} ${JSON.stringify(v.statusData)}`);
  const logs = await stack.client.request<{ result: { logs: string } }>('GET', `/session/${sessionId}/logs`);
  t.is(logs.result.logs, 'repaired\n');
  const s = await stack.client.request<SessionWire>('GET', `/session/${sessionId}`);
  t.is(s.attempt, 1, 'the same attempt ran: repaired, not retried');
});
