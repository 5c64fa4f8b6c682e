import test from 'ava';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { logStreamKey } from '../../src/queue/names.js';
import { openRedis } from '../../src/queue/redis.js';
import { childAgentStack } from '../helpers/child-agent.js';
import { until } from '../helpers/eventually.js';
import { makeFolder } from '../helpers/folders.js';
import { testEnv } from '../helpers/env.js';
import { batch, waitForAgents, waitForStatus } from '../helpers/stack.js';

/**
 * The agent as an operator runs it: a child process `bai agent`, killed and restarted. What runs
 * in Docker must outlive the agent, be re-adopted by its labels, and run exactly once.
 */

// A restart on a loaded machine may take seconds, and the first test's agent stays down until
// its quick container has exited: at load ~25 that passed 30 s. The agent must not be declared
// LOST meanwhile (what these tests check is the restart; fault-agent-lost checks LOST).
const fx = childAgentStack(test, 120_000);

async function logsOf(id: string): Promise<string> {
  const r = await fx.stack.client.request<{ result: { logs: string } }>('GET', `/session/${id}/logs`);
  return r.result.logs;
}

// One agent id for the tests that run sessions, so none is placed on a stopped agent's row.
test.serial('agent SIGKILLed mid-run, restarted: true exit codes, each command ran once', async (t) => {
  t.timeout(300_000); // a cap only: each wait has its own deadline; two agent starts on a loaded machine
  const ledger = await makeFolder(fx.stack.client, fx.stack.agentConfig(9).storageRoot, 'ledger');
  let agent = await fx.agents.spawn(9);
  await waitForAgents(fx.stack, 1);
  const mount = { config: { mounts: ['ledger'] } };
  // Each command records its run, then waits for its gate file: the test decides when it ends.
  const gated = (name: string, code: number) =>
    `echo ${name} >> /home/work/ledger/runs; echo ${name}-out; ` +
    `while [ ! -e /home/work/ledger/${name}.go ]; do sleep 0.1; done; exit ${code}`;
  // One ends while the agent is down, one is still running when it comes back.
  const quick = await fx.create(batch(gated('quick', 7), { ...mount }));
  const slow = await fx.create(batch(gated('slow', 5), { ...mount }));
  await waitForStatus(fx.stack.client, quick, ['RUNNING']);
  await waitForStatus(fx.stack.client, slow, ['RUNNING']);
  await fx.agents.stop(agent, 'SIGKILL');
  writeFileSync(join(ledger, 'quick.go'), '');

  // While the agent is gone the containers carry on; the quick one ends unobserved.
  await until('the quick container to exit', async () => {
    const [c] = await fx.containersOf(`ai.bai.session-id=${quick}`);
    return c?.State === 'exited' ? true : null;
  });
  const [slowC] = await fx.containersOf(`ai.bai.session-id=${slow}`);
  t.is(slowC?.State, 'running');

  agent = await fx.agents.spawn(9);
  writeFileSync(join(ledger, 'slow.go'), '');
  const q = await waitForStatus(fx.stack.client, quick);
  const s = await waitForStatus(fx.stack.client, slow);
  t.is(q.status, 'TERMINATED');
  t.is(q.exitCode, 7);
  t.is(q.statusInfo, 'task-failed');
  t.is(s.status, 'TERMINATED');
  t.is(s.exitCode, 5);
  t.is(s.statusInfo, 'task-failed');
  const runs = readFileSync(join(ledger, 'runs'), 'utf8').split('\n').filter(Boolean).sort();
  t.deepEqual(runs, ['quick', 'slow'], 'each command ran exactly once');
  // The live log stream of the re-adopted run carries on without copying its output twice.
  const redis = openRedis(testEnv().redisUrl);
  try {
    const entries = await redis.xrange(
      logStreamKey(fx.stack.prefix, fx.stack.agentConfig(9).id, s.kernels[0]!.kernelId),
      '-',
      '+',
    );
    t.is(entries.map(([, f]) => f[1] ?? '').join(''), 'slow-out\n');
  } finally {
    redis.disconnect();
  }
  t.is(s.kernels[0] && (await logsOf(slow)), 'slow-out\n');
  // Once the manager recorded the ends, the agent removes the containers.
  await until('containers removed', async () =>
    (await fx.containersOf(`ai.bai.session-id=${quick}`)).length +
      (await fx.containersOf(`ai.bai.session-id=${slow}`)).length ===
    0
      ? true
      : null,
  );
  t.is(await fx.agents.stop(agent, 'SIGTERM'), 0);
});

test.serial('a timeout kill the agent could not report is reported as a timeout after restart', async (t) => {
  t.timeout(300_000); // a cap only, as above
  let agent = await fx.agents.spawn(9);
  // A 10 s timeout, not 1 s: the test must see RUNNING and kill the agent before the deadline,
  // and at load ~50 a 1 s one ended the session before the status poll saw it RUNNING.
  const id = await fx.create(batch('sleep 120', { batch_timeout: 10 }));
  const running = await waitForStatus(fx.stack.client, id, ['RUNNING']);
  await fx.agents.stop(agent, 'SIGKILL');
  // What the agent does at the deadline, done here because the agent died just after it.
  const started = Date.parse(running.kernels[0]!.startedAt!);
  await new Promise((r) => setTimeout(r, Math.max(0, started + 10_200 - Date.now())));
  const [c] = await fx.containersOf(`ai.bai.session-id=${id}`);
  // A 409 (not running): on a loaded machine the agent reached the deadline and killed it before
  // its SIGKILL landed; either way the container ended by the timeout's kill.
  await fx.docker
    .getContainer(c!.Id)
    .kill()
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 409) throw err;
    });
  agent = await fx.agents.spawn(9);
  const s = await waitForStatus(fx.stack.client, id);
  t.is(s.status, 'TERMINATED');
  t.is(s.statusInfo, 'task-timeout');
  t.is(s.exitCode, -2);
  t.is(await fx.agents.stop(agent, 'SIGTERM'), 0);
});

test.serial('SIGTERM leaves the running container; the next agent re-adopts and reports it', async (t) => {
  t.timeout(300_000); // a cap only, as above
  const ledger = await makeFolder(fx.stack.client, fx.stack.agentConfig(9).storageRoot, 'ledger');
  let agent = await fx.agents.spawn(9);
  const id = await fx.create(
    batch('while [ ! -e /home/work/ledger/term.go ]; do sleep 0.1; done; exit 4', {
      config: { mounts: ['ledger'] },
    }),
  );
  await waitForStatus(fx.stack.client, id, ['RUNNING']);
  const t0 = Date.now();
  t.is(await fx.agents.stop(agent, 'SIGTERM'), 0);
  t.log(`agent stopped in ${Date.now() - t0} ms`);
  const [c] = await fx.containersOf(`ai.bai.session-id=${id}`);
  t.is(c?.State, 'running', 'the container outlives a stopped agent');
  const during = await fx.stack.client.request<SessionWire>('GET', `/session/${id}`);
  t.is(during.status, 'RUNNING');
  agent = await fx.agents.spawn(9);
  writeFileSync(join(ledger, 'term.go'), '');
  const s = await waitForStatus(fx.stack.client, id);
  t.is(s.status, 'TERMINATED');
  t.is(s.exitCode, 4);
  t.is(await fx.agents.stop(agent, 'SIGTERM'), 0);
});
