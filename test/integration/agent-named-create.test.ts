import test from 'ava';
import Docker from 'dockerode';
import type { Logger } from '../../src/log/logger.js';
import { startAgent } from '../../src/workers/agent/agent-process.js';
import { testEnv } from '../helpers/env.js';
import { until } from '../helpers/eventually.js';
import { batch, startTestStack, waitForAgents, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * A first attempt of one kernel is not listed before its create (run-pipeline.ts,
 * listsAtConflict): its container's name is its own, so a container an earlier delivery of the
 * job left makes the create answer 409. That container is then adopted and run, once; nothing
 * is created beside it and the session does not fail to start.
 */
let stack: TestStack;
const said: string[] = [];
const log: Logger = {
  info: (msg) => void said.push(msg),
  error: (msg) => void said.push(msg),
};
const docker = new Docker({ socketPath: testEnv().dockerHost.replace(/^unix:\/\//, '') });

test.before(async () => {
  stack = await startTestStack({ agents: 0 });
  stack.agents.push(await startAgent(stack.agentConfig(1), log));
  await waitForAgents(stack, 1);
});
test.after.always(async () => {
  await stack?.close();
});

test('a run job whose container is on the engine already adopts it: its command runs once', async (t) => {
  t.timeout(180_000); // a cap only: every wait has its own deadline
  const agentId = stack.agentConfig(1).id;
  // The agent's four CPUs taken: the next session waits, not placed, while its container is made.
  const occupier = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('sleep 600', { name: 'occupier', config: { resources: { cpu: 4 } } }),
  );
  await waitForStatus(stack.client, occupier.sessionId, ['RUNNING']);
  const { sessionId } = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch('echo submitted', { name: 'made-before', config: { resources: { cpu: 1 } } }),
  );
  const kernel = (await stack.database.db('kernels').where({ session_id: sessionId }).first()) as {
    id: string;
  };
  // What an earlier delivery of the job would have left: the attempt's container, under its name.
  const made = await docker.createContainer({
    name: `bai-${kernel.id}`,
    Image: 'bai.local/python:3.11-bookworm',
    Cmd: ['sh', '-c', 'echo made-earlier; exit 3'],
    Labels: {
      'ai.bai.managed': 'true',
      'ai.bai.session-id': sessionId,
      'ai.bai.kernel-id': kernel.id,
      'ai.bai.agent-id': agentId,
      'ai.bai.attempt': '1',
      'ai.bai.cluster-role': 'main',
    },
    HostConfig: { NetworkMode: 'none' },
  });
  const before = (await stack.database.db('sessions').where({ id: sessionId }).first()) as {
    status: string;
  };
  t.is(before.status, 'PENDING', 'not placed before its container was made');

  await stack.client.request('DELETE', `/session/${occupier.sessionId}`);
  const s = await waitForStatus(stack.client, sessionId);
  t.is(s.status, 'TERMINATED', `${s.statusInfo} ${JSON.stringify(s.statusData)}`);
  t.is(s.exitCode, 3, 'the container that was there ran');
  const logs = await stack.client.request<{ result: { logs: string } }>('GET', `/session/${sessionId}/logs`);
  t.is(logs.result.logs, 'made-earlier\n', 'and no other: the submitted command never ran');
  t.true(said.includes('container there already: adopted'), said.join(' | '));
  t.false(said.includes('start failed'));
  // Cleaned up as an adopted session's: listed, removed.
  await until('the container removed', async () =>
    (await docker.listContainers({ all: true, filters: { id: [made.id] } })).length === 0 ? true : null,
  );
});
