import test from 'ava';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { makeFolder } from '../helpers/folders.js';
import { join } from 'node:path';
import { ensurePythonImage } from '../../src/stack/python-image.js';
import { isAlive, run, waitUntil } from '../../src/stack/process-util.js';
import { startDockerd, type Service } from '../../src/stack/services.js';
import { testEnv } from '../helpers/env.js';
import { waitAll } from '../helpers/faults.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * The Docker engine of an agent SIGKILLed and restarted (same data-root and socket) under its
 * running sessions: the agent notices the engine leave and return, re-reads its containers by
 * label and reports what Docker recorded; a batch timeout and a destroy that fell due while the
 * engine was away take effect when it returns.
 */
let engine: Service | null = null;
let stack: TestStack;
const dir = join(testEnv().tmp, `de-${randomInt(1e9)}`);
const poolOctet = 100 + randomInt(40);

test.before(async () => {
  engine = await startDockerd(dir, { poolOctet });
  ensurePythonImage(engine.url);
  // About the engine, not agent loss: a heartbeat late by seconds while dockerd restarts on a
  // loaded machine must not make the agent LOST (grace 0 would end its sessions agent-lost).
  stack = await startTestStack({ agents: 0, manager: { agentTimeoutMs: 60_000 } });
  await stack.addAgent({ dockerHost: engine.url, slots: { cpu: 8, mem: 8 * 1024 ** 3 } });
});
test.after.always(async () => {
  await stack?.close();
  await engine?.stop();
});

/** The host pid of a running container's main process (seen while the engine answers). */
function pidOf(containerId: string): number {
  return Number(
    run('docker', ['-H', engine!.url, 'inspect', '--format', '{{.State.Pid}}', containerId]).trim(),
  );
}

test('dockerd SIGKILLed and restarted: sessions end with true results, a timeout and a destroy take effect', async (t) => {
  t.timeout(600_000); // a cap only: waitAll fails as soon as no session advances
  const create = (name: string, command: string, extra: Record<string, unknown> = {}) =>
    stack.client
      .request<{ sessionId: string }>('POST', '/session', batch(command, { name, ...extra }))
      .then((r) => r.sessionId);
  // Three that finish while the engine is away (when the test opens their gate), one destroyed
  // meanwhile, one whose batch timeout falls due meanwhile.
  const gateDir = await makeFolder(stack.client, stack.agentConfig(1).storageRoot, 'gate');
  const gated = (end: string) => `while [ ! -e /home/work/gate/go ]; do sleep 0.1; done; ${end}`;
  const mounts = { config: { mounts: ['gate'] } };
  const finishing = [
    await create('finish-0', gated('echo done-0'), mounts),
    await create('finish-1', gated('echo done-1'), mounts),
    await create('finish-2', gated('exit 3'), mounts),
  ];
  const doomed = await create('doomed', 'sleep 300');
  const running = new Map<string, SessionWire>();
  for (const id of [...finishing, doomed])
    running.set(id, await waitForStatus(stack.client, id, ['RUNNING'], 60_000));
  const timed = await create('timed', 'sleep 300', { batch_timeout: 12 });
  running.set(timed, await waitForStatus(stack.client, timed, ['RUNNING'], 60_000));
  const all = [...finishing, timed, doomed];
  const pids = finishing.map((id) => pidOf(running.get(id)!.kernels[0]!.containerId!));

  process.kill(engine!.pid, 'SIGKILL');
  await waitUntil('dockerd gone', () => !isAlive(engine!.pid), 10_000);
  engine = null; // this one is dead; the restarted engine owns the folder
  // The agent says so in its heartbeat; the manager places nothing on it meanwhile.
  const agentId = stack.agentConfig(1).id;
  await waitUntil(
    'the agent shown engine-unavailable',
    async () => {
      const a = (await stack.database.db('agents').where({ id: agentId }).first()) as { status_info: string };
      return a.status_info === 'engine-unavailable';
    },
    30_000,
  );
  // Destroy while the engine is away: the session waits in TERMINATING until it can be stopped.
  const destroyed = await stack.client.request<SessionWire>('DELETE', `/session/${doomed}`);
  t.true(['TERMINATING', 'TERMINATED'].includes(destroyed.status));
  // The engine stays away until the gated jobs have exited and the batch timeout has passed.
  writeFileSync(join(gateDir, 'go'), '');
  await waitUntil('gated jobs exited', () => pids.every((p) => !isAlive(p)), 60_000);
  const timedStart = Date.parse(running.get(timed)!.startedAt!);
  await waitUntil('batch timeout due', () => Date.now() > timedStart + 13_000, 30_000);
  for (const id of all) {
    const v = await stack.client.request<SessionWire>('GET', `/session/${id}`);
    t.not(v.status, 'TERMINATED', `${v.sessionName} ended before the engine came back`);
  }

  // From when the restart begins: no session may end before it (checked above), all after it.
  const back = Date.now();
  engine = await startDockerd(dir, { poolOctet });
  const views = await waitAll(stack.client, all, ['TERMINATED', 'CANCELLED'], 60_000);
  for (const v of views.values()) {
    const endedAfter = Date.parse(v.terminationTime as string) - back;
    // Order, not speed: each ended once the engine was back (its true result is checked below).
    t.true(endedAfter >= 0, `${v.sessionName} ended ${-endedAfter} ms before the engine's restart`);
  }
  for (const [i, id] of finishing.entries()) {
    const v = views.get(id)!;
    const want = i < 2 ? { result: 'SUCCESS', exitCode: 0 } : { result: 'FAILURE', exitCode: 3 };
    t.like(v, { status: 'TERMINATED', ...want }, `${v.sessionName}: ${v.statusInfo}`);
    t.is(v.kernels[0]?.exitCode, want.exitCode);
  }
  t.like(views.get(timed), { status: 'TERMINATED', result: 'FAILURE', statusInfo: 'task-timeout' });
  t.like(views.get(doomed), { status: 'TERMINATED', result: 'FAILURE', statusInfo: 'user-requested' });

  // Nothing holds slots any more: the whole agent is free for a new session, which runs.
  const big = await create('after', 'echo after', { config: { resources: { cpu: 8, mem: '64m' } } });
  const after = await waitForStatus(stack.client, big, ['TERMINATED', 'CANCELLED'], 60_000);
  t.like(after, { status: 'TERMINATED', result: 'SUCCESS' });
});
