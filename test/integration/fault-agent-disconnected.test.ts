import test from 'ava';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerAdapter } from '../../src/docker/docker-adapter.js';
import { ChildAgents } from '../helpers/child-agent.js';
import { until } from '../helpers/eventually.js';
import { makeFolder } from '../helpers/folders.js';
import { testEnv } from '../helpers/env.js';
import { batch, startTestStack, waitForAgents, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * An agent paused (SIGSTOP) past the LOST limit: its sessions wait as `agent-disconnected`
 * for the grace window; a true result brought back within it is kept, and only after it does a
 * retry run elsewhere, the stale attempt being stopped when its agent returns.
 */
const AGENT_TIMEOUT_MS = 3_000;
const docker = new DockerAdapter(testEnv().dockerHost);

async function withStack(
  graceMs: number,
  body: (stack: TestStack, agents: ChildAgents) => Promise<void>,
): Promise<void> {
  const stack = await startTestStack({
    agents: 0,
    manager: { agentTimeoutMs: AGENT_TIMEOUT_MS, agentGraceMs: graceMs },
  });
  const agents = new ChildAgents(stack);
  try {
    await body(stack, agents);
  } finally {
    agents.killAll();
    await stack.close();
  }
}

const get = (stack: TestStack, id: string) => stack.client.request<SessionWire>('GET', `/session/${id}`);

test.serial(
  'paused past the LOST limit, inside the grace window: an exit 0 meanwhile ends SUCCESS',
  async (t) => {
    t.timeout(120_000);
    await withStack(60_000, async (stack, agents) => {
      const child = await agents.spawn(1);
      await waitForAgents(stack, 1);
      const { sessionId: id } = await stack.client.request<{ sessionId: string }>(
        'POST',
        '/session',
        batch('sleep 5; echo finished-while-paused', { name: 'paused' }),
      );
      const running = await waitForStatus(stack.client, id, ['RUNNING'], 60_000);
      const containerId = running.kernels[0]!.containerId!;

      child.kill('SIGSTOP');
      const waiting = await until(
        'the session waiting as disconnected',
        async () => {
          const v = await get(stack, id);
          return v.statusInfo === 'agent-disconnected' ? v : null;
        },
        30_000,
      );
      t.is(waiting.status, 'RUNNING', 'a valid Backend.AI status while its agent is unknown');
      t.like(waiting.statusData.agentDisconnected, { agentId: stack.agentConfig(1).id });
      const agent = (await stack.database
        .db('agents')
        .where({ id: stack.agentConfig(1).id })
        .first()) as {
        status: string;
      };
      t.is(agent.status, 'LOST');
      await until(
        'the container exiting while its agent is paused',
        async () => {
          const st = await docker.inspect(containerId);
          return st && !st.running ? st : null;
        },
        30_000,
      );
      t.is((await get(stack, id)).status, 'RUNNING', 'not given up inside the grace window');

      child.kill('SIGCONT');
      const end = await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 30_000);
      t.like(end, { status: 'TERMINATED', result: 'SUCCESS', statusInfo: 'task-finished', exitCode: 0 });
      t.is(end.kernels[0]?.exitCode, 0);
      const k = (await stack.database.db('kernels').where({ session_id: id }).first()) as { logs: string };
      t.true(k.logs.includes('finished-while-paused'));
      await until(
        'the agent ALIVE again',
        async () => {
          const a = (await stack.database
            .db('agents')
            .where({ id: stack.agentConfig(1).id })
            .first()) as {
            status: string;
          };
          return a.status === 'ALIVE' ? a : null;
        },
        20_000,
      );
    });
  },
);

test.serial(
  'paused past both limits with a retry: the retry runs elsewhere, the stale attempt is stopped on return',
  async (t) => {
    t.timeout(150_000);
    const graceMs = 4_000;
    await withStack(graceMs, async (stack, agents) => {
      const child = await agents.spawn(2); // addAgent() below is agent 1
      await waitForAgents(stack, 1);
      const ledger = join(await makeFolder(stack.client, stack.agentConfig(1).storageRoot, 'ledger'), 'runs');
      const lines = () =>
        existsSync(ledger) ? readFileSync(ledger, 'utf8').split('\n').filter(Boolean) : [];
      // Each run appends "start <run id>", then "end <run id>" if nobody stops it.
      const command =
        'id=$(cat /proc/sys/kernel/random/uuid); echo "start $id" >> /home/work/ledger/runs; ' +
        'sleep 25; echo "end $id" >> /home/work/ledger/runs';
      const { sessionId: id } = await stack.client.request<{ sessionId: string }>(
        'POST',
        '/session',
        batch(command, {
          name: 'ledger',
          config: { mounts: ['ledger'] },
          retry: { max_attempts: 2, backoff: 'fixed', delay: 1, on: ['agent-lost'] },
        }),
      );
      await waitForStatus(stack.client, id, ['RUNNING'], 60_000);
      await until('the first run started', async () => (lines().length === 1 ? true : null), 30_000);
      await stack.addAgent(); // where the retry can go
      const survivor = stack.agentConfig(1).id;

      child.kill('SIGSTOP');
      const pausedAt = Date.now();
      const seen: string[] = [];
      const waiting = await until(
        'the session waiting as disconnected',
        async () => {
          const v = await get(stack, id);
          const s = `${v.status}/${v.statusInfo}/${String(v.attempt)}`;
          if (seen.at(-1) !== s) seen.push(s);
          return v.statusInfo === 'agent-disconnected' ? v : null;
        },
        30_000,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; seen ${seen.join(' → ')}`);
      });
      t.is(waiting.status, 'RUNNING');
      const lostAfter = Date.parse((waiting.statusData.agentDisconnected as { lostAfter: string }).lostAfter);
      t.true(lostAfter - pausedAt >= AGENT_TIMEOUT_MS + graceMs - 1_500, 'the deadline is the grace window');

      const second = await until(
        'the second attempt running on the other agent',
        async () => {
          const v = await get(stack, id);
          const s = `${v.status}/${v.statusInfo}/${String(v.attempt)}/${String(v.agentId)}/${JSON.stringify(v.statusData)}`;
          if (seen.at(-1) !== s) seen.push(s);
          return v.status === 'RUNNING' && v.attempt === 2 ? v : null;
        },
        60_000,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}; seen ${seen.join(' → ')}`);
      });
      t.is(second.agentId, survivor);
      const history = second.attempts as {
        attempt: number;
        agentId: string;
        reason: string;
        endedAt: string;
      }[];
      t.like(history[0], { attempt: 1, agentId: stack.agentConfig(2).id, reason: 'agent-lost' });
      t.true(Date.parse(history[0]!.endedAt) >= lostAfter, 'given up only after the grace window');
      await until('the second run started', async () => (lines().length === 2 ? true : null), 30_000);

      child.kill('SIGCONT');
      await until(
        'the stale attempt stopped and removed by its returning agent',
        async () =>
          (await docker.list([`ai.bai.session-id=${id}`, 'ai.bai.attempt=1'])).length === 0 ? true : null,
        30_000,
      );
      const end = await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 60_000);
      t.like(end, { status: 'TERMINATED', result: 'SUCCESS', exitCode: 0, attempt: 2, agentId: survivor });

      // The ledger: two runs started, and only the second, whose result is recorded, ended.
      const all = lines();
      const starts = all.filter((l) => l.startsWith('start ')).map((l) => l.slice(6));
      const ends = all.filter((l) => l.startsWith('end ')).map((l) => l.slice(4));
      t.is(starts.length, 2, all.join('\n'));
      t.deepEqual(ends, [starts[1]], all.join('\n'));
    });
  },
);
