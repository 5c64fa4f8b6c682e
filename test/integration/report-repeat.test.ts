import test from 'ava';
import type { SessionWire } from '../../src/domain/session-wire.js';
import type { KernelExitedReport } from '../../src/queue/payloads.js';
import { openRedis } from '../../src/queue/redis.js';
import { testEnv } from '../helpers/env.js';
import { until } from '../helpers/eventually.js';
import { reportApplied, sendReport } from '../helpers/reports.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * An agent re-sends an exit it is not sure landed (after its engine came back, or on a duplicate
 * run job), and by then the container may be gone: its repeat then says exit -1 and no output.
 * The first report applied stands for the session and for its kernel alike.
 */
let stack: TestStack;
const redis = openRedis(testEnv().redisUrl);
test.before(async () => {
  stack = await startTestStack();
});
test.after.always(async () => {
  await stack?.close();
  redis.disconnect();
});

test('a repeated exit report for an ended session changes neither the session nor its kernel', async (t) => {
  const { sessionId } = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('echo first-output; exit 3', { name: 'repeat' }),
  );
  const ended = await waitForStatus(stack.client, sessionId, ['TERMINATED', 'CANCELLED']);
  t.like(ended, { status: 'TERMINATED', result: 'FAILURE', exitCode: 3 });
  t.is(ended.kernels[0]?.exitCode, 3);
  const events = await stack.database.db('session_events').where({ session_id: sessionId }).count('* as c');

  const agentId = stack.agentConfig(1).id;
  const repeat: KernelExitedReport = {
    agentId,
    sessionId,
    attempt: ended.attempt,
    kernelId: ended.kernels[0]!.kernelId,
    exitCode: -1,
    timedOut: false,
    oomKilled: false,
    stoppedFor: null,
    logs: '',
    startedAt: null,
    finishedAt: Date.now(),
  };
  const entry = await sendReport(
    redis,
    stack.prefix,
    agentId,
    { name: 'kernel-exited', data: repeat },
    `repeat-${sessionId}`,
  );
  await until('the repeated report consumed', async () =>
    (await reportApplied(redis, stack.prefix, agentId, entry)) ? true : null,
  );

  const after = await stack.client.request<SessionWire>('GET', `/session/${sessionId}`);
  t.like(after, { status: 'TERMINATED', result: 'FAILURE', exitCode: 3 });
  t.is(after.kernels[0]?.exitCode, 3, 'the kernel keeps the exit code first reported');
  const logs = await stack.client.request<{ result: { logs: string } }>('GET', `/session/${sessionId}/logs`);
  t.is(logs.result.logs, 'first-output\n');
  t.deepEqual(
    await stack.database.db('session_events').where({ session_id: sessionId }).count('* as c'),
    events,
    'no event was recorded',
  );
});
