import test from 'ava';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childAgentStack } from '../helpers/child-agent.js';
import { until } from '../helpers/eventually.js';
import { makeFolder } from '../helpers/folders.js';
import { batch, waitForStatus } from '../helpers/stack.js';

/**
 * The agent's lifecycle as an operator drives it, `bai agent` as a child process: drain mode
 * (SIGUSR2), and the removal at start of containers that no live session owns.
 */

// A restart on a loaded machine may take seconds: the agent must not be declared LOST meanwhile.
const fx = childAgentStack(test, 30_000);

test.serial(
  'drain (SIGUSR2): running work finishes, cancels still arrive, nothing new is placed',
  async (t) => {
    const ledger = await makeFolder(fx.stack.client, fx.stack.agentConfig(9).storageRoot, 'ledger');
    const agent = await fx.agents.spawn(9);
    const mount = { config: { mounts: ['ledger'] } };
    const finishing = await fx.create(
      batch('while [ ! -e /home/work/ledger/drain.go ]; do sleep 0.1; done; echo done', mount),
    );
    const cancelled = await fx.create(batch('sleep 120'));
    await waitForStatus(fx.stack.client, finishing, ['RUNNING']);
    await waitForStatus(fx.stack.client, cancelled, ['RUNNING']);
    agent.kill('SIGUSR2');
    const agentId = fx.stack.agentConfig(9).id;
    await until('the agent marked draining', async () => {
      const row = (await fx.stack.database.db('agents').where({ id: agentId }).first()) as
        { status_info: string | null } | undefined;
      return row?.status_info === 'draining' ? true : null;
    });
    const later = await fx.create(batch('echo later', { name: 'after-drain' }));

    // A cancel reaches a draining agent, and so does the clean-up after it.
    await fx.stack.client.request('DELETE', `/session/${cancelled}`);
    const c = await waitForStatus(fx.stack.client, cancelled);
    t.is(c.statusInfo, 'user-requested');
    await until('the cancelled container removed', async () =>
      (await fx.containersOf(`ai.bai.session-id=${cancelled}`)).length === 0 ? true : null,
    );
    // Running work finishes and is cleaned up.
    writeFileSync(join(ledger, 'drain.go'), '');
    const s = await waitForStatus(fx.stack.client, finishing);
    t.is(s.exitCode, 0, 'the running session finished');
    await until('the finished container removed', async () =>
      (await fx.containersOf(`ai.bai.session-id=${finishing}`)).length === 0 ? true : null,
    );
    const after = await fx.stack.client.request<SessionWire>('GET', `/session/${later}`);
    t.is(after.status, 'PENDING', 'a draining agent takes no new work');
    t.is(after.agentId, null);
    t.is(await fx.agents.stop(agent, 'SIGTERM'), 0);
    await fx.stack.client.request('DELETE', `/session/${later}`);
  },
);

test.serial('containers labelled as the agent’s with no live session are removed at its start', async (t) => {
  const agentId = fx.stack.agentConfig(7).id;
  const labels = (sessionId: string, agent: string): Record<string, string> => ({
    'ai.bai.managed': 'true',
    'ai.bai.session-id': sessionId,
    'ai.bai.kernel-id': randomUUID(),
    'ai.bai.agent-id': agent,
    'ai.bai.attempt': '1',
    'ai.bai.cluster-role': 'main',
  });
  const make = async (l: Record<string, string>, cmd: string[]) => {
    const c = await fx.docker.createContainer({
      Image: 'bai.local/python:3.11-bookworm',
      Cmd: cmd,
      Labels: l,
      HostConfig: { NetworkMode: 'none' },
    });
    await c.start();
    return c.id;
  };
  const running = await make(labels(randomUUID(), agentId), ['sleep', '300']);
  const exited = await make(labels(randomUUID(), agentId), ['true']);
  // Someone else's container (another agent on the same engine) is not this agent's to touch.
  const foreign = await make(labels(randomUUID(), fx.stack.agentConfig(6).id), ['sleep', '300']);
  // A cluster network whose containers never came (a crash between the two).
  const orphanNet = `bai-${randomUUID()}`;
  await fx.docker.createNetwork({
    Name: orphanNet,
    Internal: true,
    Labels: { 'ai.bai.managed': 'true', 'ai.bai.session-id': orphanNet.slice(4), 'ai.bai.agent-id': agentId },
  });
  try {
    const t0 = Date.now();
    const agent = await fx.agents.spawn(7);
    t.log(`agent ready in ${Date.now() - t0} ms`);
    await until('the orphans removed', async () => {
      const mine = await fx.containersOf(`ai.bai.agent-id=${agentId}`);
      return mine.length === 0 ? true : null;
    });
    t.log(`orphans removed ${Date.now() - t0} ms after the agent was launched`);
    const gone = await Promise.all(
      [running, exited].map((id) =>
        fx.docker
          .getContainer(id)
          .inspect()
          .then(
            () => false,
            () => true,
          ),
      ),
    );
    t.deepEqual(gone, [true, true]);
    t.deepEqual(await fx.docker.listNetworks({ filters: { name: [orphanNet] } }), []);
    const other = await fx.docker.getContainer(foreign).inspect();
    t.true(other.State.Running, 'a container of another agent stays');
    t.is(await fx.agents.stop(agent, 'SIGTERM'), 0);
  } finally {
    await fx.docker.getContainer(foreign).remove({ force: true });
  }
});
