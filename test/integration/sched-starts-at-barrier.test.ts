import test from 'ava';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerAdapter, type ContainerSummary } from '../../src/docker/docker-adapter.js';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { BARRIER_LABEL } from '../../src/domain/start-barrier.js';
import { PYTHON_IMAGE, PYTHON_LABELS } from '../../src/stack/python-image.js';
import { ChildAgents } from '../helpers/child-agent.js';
import { testEnv } from '../helpers/env.js';
import { until } from '../helpers/eventually.js';
import { batch, startTestStack, waitForAgents, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * starts_at by barrier (docs/scheduling.md): the container is started ahead with the command
 * held; the agent releases it at the instant. Each job prints its first instruction's time:
 * the test asserts order (never before starts_at), outcomes and cleanup, never a skew bound.
 */

let stack: TestStack;
let agents: ChildAgents;
let agent: ChildProcess;
let docker: DockerAdapter;
const images: string[] = [];
const env = testEnv();
const dockerCli = (args: string[]) => execFileSync('docker', ['-H', env.dockerHost, ...args]).toString();

/** The first instruction: its wall-clock time, then its arguments (what Docker gave it). */
const FIRST = 'import sys, time; print(time.time(), flush=True); print(sys.argv[1:])';

/**
 * An image from the python one with `python3 -c FIRST` as its ENTRYPOINT; `noShell` also
 * deletes /bin/sh (merged /usr: /usr/bin/sh and dash), so no barrier can hold it.
 */
function entrypointImage(name: string, noShell: boolean): string {
  const ref = `bai.local/${name}-${stack.id}:1`;
  const box = `mk-${name}-${stack.id}`;
  const rm = noShell ? ['/usr/bin/sh', '/usr/bin/dash'] : ['/nonexistent'];
  dockerCli(['run', '--name', box, '--user', '0', '--entrypoint', '/usr/bin/rm', PYTHON_IMAGE, '-f', ...rm]);
  const entry = JSON.stringify(['/usr/bin/python3', '-c', FIRST]);
  dockerCli(['commit', '--change', `ENTRYPOINT ${entry}`, '--change', 'CMD []', box, ref]);
  dockerCli(['rm', box]);
  images.push(ref);
  return ref;
}

async function register(alias: string, ref: string): Promise<void> {
  await stack.client.request('POST', '/images', { name: ref, labels: PYTHON_LABELS });
  await stack.client.request('PUT', `/image-aliases/${alias}`, { image: ref });
}

test.before(async () => {
  // The agent is a child process (so it can be SIGKILLed); a restart must not make it LOST.
  // Loaded machines were seen taking 38 s to start an agent: give it 2 minutes.
  stack = await startTestStack({ agents: 0, manager: { agentTimeoutMs: 120_000 } });
  agents = new ChildAgents(stack);
  agent = await agents.spawn(1);
  await waitForAgents(stack, 1);
  docker = new DockerAdapter(env.dockerHost);
  await register('entry-sh', entrypointImage('entry-sh', false));
  await register('entry-nosh', entrypointImage('entry-nosh', true));
});
test.after.always(async () => {
  agents?.killAll();
  await stack?.close();
  for (const ref of images) dockerCli(['rmi', '-f', ref]);
});

const create = (body: Record<string, unknown>) =>
  stack.client.request<{ sessionId: string }>('POST', '/session', body).then((r) => r.sessionId);
const get = (id: string) => stack.client.request<SessionWire>('GET', `/session/${id}`);
const logsOf = async (id: string) =>
  (await stack.client.request<{ result: { logs: string } }>('GET', `/session/${id}/logs`)).result.logs;
const containersOf = (id: string) => docker.list([`ai.bai.session-id=${id}`]);
const at = (ms: number) => new Date(Date.now() + ms).toISOString();
const barrierDir = () => join(env.tmp, `agent-state-${stack.id}-1`, 'barrier');

/** Waits until the session's container runs while the session is not RUNNING: held at its barrier. */
async function heldContainer(id: string): Promise<ContainerSummary> {
  return until(`${id} held at its barrier`, async () => {
    const [c] = await containersOf(id);
    return c && c.state === 'running' ? c : null;
  });
}

/** The job's output: its first instruction's time (ms) and the arguments it was given. */
function firstInstruction(logs: string): { at: number; argv: string } {
  const [time, argv] = logs.trim().split('\n');
  return { at: Number(time) * 1000, argv: argv ?? '' };
}

test.serial(
  'held at a barrier: runs its first instruction at or after starts_at, SUCCESS, output',
  async (t) => {
    const py = (code: number) =>
      `python3 -c 'import time, sys; print(time.time(), flush=True); sys.exit(${code})'`;
    const ok = await create(batch(py(0), { name: 'bar-ok', starts_at: at(10_000) }));
    const bad = await create(batch(py(3), { name: 'bar-3', starts_at: at(10_500) }));
    for (const id of [ok, bad]) {
      const c = await heldContainer(id);
      t.is(c.labels[BARRIER_LABEL], '1', 'created behind a barrier');
      const v = await get(id);
      t.not(v.status, 'RUNNING', 'a held session is not RUNNING');
      t.is(v.kernels[0]?.startedAt ?? null, null);
    }
    for (const [id, result, code] of [
      [ok, 'SUCCESS', 0],
      [bad, 'FAILURE', 3],
    ] as const) {
      const v = await waitForStatus(stack.client, id);
      t.is(v.status, 'TERMINATED');
      t.is(v.result, result);
      t.is(v.kernels[0]?.exitCode, code);
      const startsAt = Date.parse(v.startsAt!);
      const startedAt = Date.parse(v.kernels[0]!.startedAt!);
      const first = firstInstruction(await logsOf(id)).at;
      t.true(startedAt >= startsAt, `started_at ${startedAt - startsAt} ms after starts_at`);
      t.true(first >= startsAt, `first instruction ${first - startsAt} ms after starts_at`);
      t.true(first >= startedAt - 1, 'released (started_at) before its first instruction');
      t.log(`${v.sessionName}: first instruction ${Math.round(first - startsAt)} ms after starts_at`); // informative
    }
  },
);

test.serial('an ENTRYPOINT image held at a barrier runs entrypoint + command exactly', async (t) => {
  const id = await create(
    batch("echo 'a b'", { name: 'bar-entry', image: 'entry-sh', starts_at: at(8_000) }),
  );
  const c = await heldContainer(id);
  t.is(c.labels[BARRIER_LABEL], '1');
  const v = await waitForStatus(stack.client, id);
  t.is(v.result, 'SUCCESS', v.statusInfo ?? '');
  const out = firstInstruction(await logsOf(id));
  t.true(out.at >= Date.parse(v.startsAt!));
  t.is(out.argv, `['/bin/sh', '-c', "echo 'a b'"]`, 'the entrypoint got the command as Docker gives it');
});

test.serial(
  'an image without /bin/sh takes the timed start: created ahead, started at the instant',
  async (t) => {
    const id = await create(
      batch("echo 'a b'", { name: 'bar-nosh', image: 'entry-nosh', starts_at: at(8_000) }),
    );
    // A barrier container may be made first and removed once its image shows no /bin/sh.
    const c = await until('its timed container created', async () =>
      (await containersOf(id)).find((x) => x.labels[BARRIER_LABEL] === undefined),
    );
    t.is(c.state, 'created', 'created ahead, not started');
    t.not((await get(id)).status, 'RUNNING');
    const v = await waitForStatus(stack.client, id);
    t.is(v.result, 'SUCCESS', v.statusInfo ?? '');
    const out = firstInstruction(await logsOf(id));
    t.true(out.at >= Date.parse(v.startsAt!));
    t.true(Date.parse(v.kernels[0]!.startedAt!) >= Date.parse(v.startsAt!));
    t.is(out.argv, `['/bin/sh', '-c', "echo 'a b'"]`);
  },
);

test.serial(
  // A placed session cancelled before it runs ends as the timed path's does (sched-starts-at):
  // TERMINATING, then TERMINATED user-requested once the agent says it never started.
  'cancelled while held: ends user-requested, its container and barrier gone, never ran',
  async (t) => {
    const id = await create(batch('echo ran', { name: 'bar-cancel', starts_at: at(8_000) }));
    const c = await heldContainer(id);
    const folder = join(barrierDir(), `bai-${c.labels['ai.bai.kernel-id']}`);
    t.true(existsSync(join(folder, 'go')), 'its FIFO is there while it is held');
    await stack.client.request('DELETE', `/session/${id}`);
    const v = await waitForStatus(stack.client, id);
    t.is(v.statusInfo, 'user-requested');
    t.is(v.result, 'FAILURE');
    t.is(v.kernels[0]?.startedAt ?? null, null, 'never RUNNING');
    await until('its container removed', async () => (await containersOf(id)).length === 0);
    t.false(existsSync(folder), 'its barrier folder is removed');
    t.is(await logsOf(id).catch(() => ''), '', 'the command never ran');
  },
);

test.serial(
  'agent SIGKILLed while held, back after the instant: released then, started_at after starts_at',
  async (t) => {
    const late = await create(
      batch('python3 -c "import time; print(time.time())"', { starts_at: at(8_000) }),
    );
    const later = await create(
      batch('python3 -c "import time; print(time.time())"', { starts_at: at(25_000) }),
    );
    await heldContainer(late);
    await heldContainer(later);
    await agents.stop(agent, 'SIGKILL');
    const lateAt = Date.parse((await get(late)).startsAt!);
    await until('the first instant passed with no agent', () => Date.now() > lateAt + 500);
    t.not((await get(late)).status, 'RUNNING', 'nothing released it while the agent was down');
    agent = await agents.spawn(1);
    for (const id of [late, later]) {
      const v = await waitForStatus(stack.client, id);
      t.is(v.result, 'SUCCESS', v.statusInfo ?? '');
      const startsAt = Date.parse(v.startsAt!);
      const first = firstInstruction(await logsOf(id)).at;
      t.true(Date.parse(v.kernels[0]!.startedAt!) >= startsAt);
      t.true(first >= startsAt);
    }
    t.true(firstInstruction(await logsOf(late)).at > lateAt + 500, 'the late one ran only once re-adopted');
  },
);

/** Whether a shell holds the container's `held` FIFO (src/domain/start-barrier.ts), as the agent asks. */
function holdsFifo(folder: string): boolean {
  try {
    closeSync(openSync(join(folder, 'held'), constants.O_WRONLY | constants.O_NONBLOCK));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENXIO') return false;
    throw err;
  }
}

test.serial(
  // The proof a restarted agent relies on (docs/scheduling.md, "Who releases"): a held shell
  // holds its `held` FIFO; once released (the command fused into it, no exec to show in ps)
  // it does not. An agent killed between `released-at` and the FIFO finds the first still held
  // and releases it; one killed while the released job runs adopts it as running.
  'agent SIGKILLed mid-release or after it: held is told from released by the held FIFO',
  async (t) => {
    const cut = await create(
      batch('python3 -c "import time; print(time.time())"', { name: 'bar-cut', starts_at: at(20_000) }),
    );
    const ran = await create(
      batch('python3 -c "import time; print(time.time())"; sleep 12', {
        name: 'bar-ran',
        starts_at: at(8_000),
      }),
    );
    const folderOf = (c: ContainerSummary) => join(barrierDir(), `bai-${c.labels['ai.bai.kernel-id']}`);
    const cutFolder = folderOf(await heldContainer(cut));
    const ranFolder = folderOf(await heldContainer(ran));
    // Docker says "running" before the container's shell has opened its FIFO: wait for the open.
    t.true(
      await until('the held shell to open its FIFO', () => holdsFifo(cutFolder) || null),
      'a held shell holds its FIFO',
    );
    await waitForStatus(stack.client, ran, ['RUNNING']);
    // A released shell lets go of it (right after its read: waited for, not assumed).
    t.true(await until('the released shell let go of its FIFO', async () => !holdsFifo(ranFolder)));
    const releasedAt = Number(readFileSync(join(ranFolder, 'released-at'), 'utf8'));
    // A release ends by recording that every word was written: the restarted agent need not wait.
    t.true(
      await until(
        'the release to record its words written',
        () => existsSync(join(ranFolder, 'written')) || null,
      ),
    );
    t.false(existsSync(join(cutFolder, 'written')), 'a held session has no written words');
    await agents.stop(agent, 'SIGKILL');
    // As if killed between writing released-at and the FIFO: recorded, never written.
    writeFileSync(join(cutFolder, 'released-at'), String(Date.now()));
    agent = await agents.spawn(1);
    const v = await waitForStatus(stack.client, cut);
    t.is(v.result, 'SUCCESS', v.statusInfo ?? '');
    const startsAt = Date.parse(v.startsAt!);
    t.true(Date.parse(v.kernels[0]!.startedAt!) >= startsAt, 'released again, at its instant');
    t.true(firstInstruction(await logsOf(cut)).at >= startsAt);
    const w = await waitForStatus(stack.client, ran);
    t.is(w.result, 'SUCCESS', w.statusInfo ?? '');
    // The kernel's started_at is its release (the exit report's), the first one: never again.
    t.is(w.kernels[0]!.startedAt, new Date(releasedAt).toISOString(), 'adopted as running: released once');
    t.is((await logsOf(ran)).trim().split('\n').length, 1, 'its command ran once');
  },
);

test.serial(
  // An agent killed between `released-at` and the FIFO, its main's shell not at the barrier yet
  // (moments after its start): no shell holds `held`, as once released, and nothing says the
  // word was written. The restarted agent waits for the shell to show, then releases it.
  'agent SIGKILLed mid-release before its shell reached the barrier: waits for the shell, then releases it',
  async (t) => {
    const id = await create(
      batch('python3 -c "import time; print(time.time())"', { name: 'bar-unseen', starts_at: at(20_000) }),
    );
    const folder = join(barrierDir(), `bai-${(await heldContainer(id)).labels['ai.bai.kernel-id']}`);
    await until('the held shell to open its FIFO', () => holdsFifo(folder) || null);
    await agents.stop(agent, 'SIGKILL');
    // Recorded, never written; and a `held` FIFO no shell holds yet, as before the shell's first line.
    writeFileSync(join(folder, 'released-at'), String(Date.now()));
    rmSync(join(folder, 'held'));
    execFileSync('mkfifo', ['-m', '0666', join(folder, 'held')]);
    let out = '';
    // However long the agent takes to start (the wait is counted from the container's start).
    const spawned = agents.spawn(1, { BAI_BARRIER_SHELL_WAIT_MS: '600000' }, (text) => (out += text));
    await until(
      'the agent to wait for the shell',
      () => out.includes('release not seen to end') || null,
      180_000,
    );
    // The shell shows: it holds `held`.
    const fd = openSync(join(folder, 'held'), constants.O_RDWR);
    try {
      agent = await spawned;
      const v = await waitForStatus(stack.client, id);
      t.is(v.result, 'SUCCESS', v.statusInfo ?? '');
      t.true(firstInstruction(await logsOf(id)).at >= Date.parse(v.startsAt!), 'released at its instant');
      t.is((await logsOf(id)).trim().split('\n').length, 1, 'its command ran once');
    } finally {
      closeSync(fd);
      // The next tests run with the usual settings.
      await agents.stop(agent, 'SIGTERM');
      agent = await agents.spawn(1);
    }
  },
);

test.serial(
  'released while the agent main loop is blocked across the instant: the command runs before the block ends',
  async (t) => {
    // The agent busy-loops its main thread from the release's permit (PERMIT_LEAD_MS ahead)
    // until BLOCK_MS past starts_at: a release that needed its event loop would run the
    // command only after that. Asserted by order, not by a skew bound.
    const BLOCK_MS = 8_000;
    await agents.stop(agent, 'SIGTERM');
    agent = await agents.spawn(1, { BAI_TEST_BLOCK_LOOP_AFTER_PERMIT_MS: String(BLOCK_MS) });
    try {
      const id = await create(
        batch('python3 -c "import time; print(time.time())"', { name: 'bar-blocked', starts_at: at(15_000) }),
      );
      await heldContainer(id);
      const v = await waitForStatus(stack.client, id);
      t.is(v.result, 'SUCCESS', v.statusInfo ?? '');
      const startsAt = Date.parse(v.startsAt!);
      const startedAt = Date.parse(v.kernels[0]!.startedAt!);
      const first = firstInstruction(await logsOf(id)).at;
      t.true(startedAt >= startsAt, 'never released before starts_at');
      t.true(first >= startsAt, `first instruction ${first - startsAt} ms after starts_at`);
      t.true(
        first < startsAt + BLOCK_MS,
        `first instruction ${Math.round(first - startsAt)} ms after starts_at, the block ended at ${BLOCK_MS} ms`,
      );
    } finally {
      await agents.stop(agent, 'SIGTERM');
      agent = await agents.spawn(1);
    }
  },
);
