import test from 'ava';
import type { SessionListWire, SessionWire } from '../../src/domain/session-wire.js';
import { bai } from '../helpers/cli.js';
import { makeFolder } from '../helpers/folders.js';
import { startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

// The create, logs, rm and ps flags as Backend.AI's CLI means them (issue 14), and bai's own
// wait limit under the name that cannot be confused with the batch timeout: --wait-timeout.

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ agents: 1 });
  await makeFolder(stack.client, stack.agentConfig(1).storageRoot, 'flag-data');
});
test.after.always(async () => {
  await stack?.close();
});

const json = <T>(s: string): T => JSON.parse(s) as T;
const info = async (ref: string) => {
  const r = await bai(stack, ['session', 'info', ref, '--json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return json<SessionWire>(r.stdout);
};
const WARN = /^Warning: /m;

test.serial('-r mem=256 is 256 MiB; -r mem=1g is 1 GiB', async (t) => {
  const a = await bai(stack, [
    'session',
    'create',
    '--type',
    'batch',
    '-t',
    'mem-mib',
    '-r',
    'mem=256',
    '-c',
    'true',
    'python',
  ]);
  t.is(a.code, 0, a.stderr);
  const b = await bai(stack, [
    'run',
    '-t',
    'mem-gib',
    '-r',
    'mem=1g',
    '-r',
    'cpu=1',
    '-c',
    'print(1)',
    'python',
  ]);
  t.is(b.code, 0, b.stderr);
  t.is(Number((await info('mem-mib')).occupiedSlots.mem), 256 * 1024 ** 2);
  t.is(Number((await info('mem-gib')).occupiedSlots.mem), 1024 ** 3);
});

test.serial('session create --timeout and --batch-timeout set the batch timeout', async (t) => {
  const a = await bai(stack, [
    'session',
    'create',
    '--type',
    'batch',
    '-t',
    'bt-timeout',
    '--timeout',
    '90',
    '--starts-at',
    '1h',
    '-c',
    'true',
    'python',
  ]);
  t.is(a.code, 0, a.stderr);
  t.notRegex(a.stderr, WARN);
  const b = await bai(stack, [
    'create',
    '--type',
    'batch',
    '-t',
    'bt-batch',
    '--batch-timeout',
    '2m',
    '--starts-at',
    '1h',
    '-c',
    'true',
    'python',
  ]);
  t.is(b.code, 0, b.stderr);
  t.is((await info('bt-timeout')).batchTimeout, 90);
  t.is((await info('bt-batch')).batchTimeout, 120);
  const both = await bai(stack, [
    'create',
    '--type',
    'batch',
    '--timeout',
    '1m',
    '--batch-timeout',
    '2m',
    '-c',
    'true',
    'python',
  ]);
  t.is(both.code, 2);
  t.regex(both.stderr, /--timeout and --batch-timeout are one option/);

  // The batch timeout kills the job: exit 3 through --wait.
  const killed = await bai(stack, [
    'create',
    '--type',
    'batch',
    '-t',
    'bt-kill',
    '--timeout',
    '1',
    '--wait',
    '--wait-timeout',
    '120',
    '-c',
    'sleep 60',
    'python',
    '--json',
  ]);
  t.is(killed.code, 3, killed.stderr);
  t.notRegex(killed.stderr, WARN);
  t.is(json<SessionWire>(killed.stdout).statusInfo, 'task-timeout');

  // The old meaning (the wait limit of --wait) warns once, and is the batch timeout now.
  const old = await bai(stack, [
    'create',
    '--type',
    'batch',
    '-t',
    'bt-old',
    '--wait',
    '--timeout',
    '60',
    '-c',
    'echo done',
    'python',
    '--json',
  ]);
  t.is(old.code, 0, old.stderr);
  t.is(old.stderr.match(/^Warning: /gm)?.length, 1);
  t.regex(old.stderr, /--timeout sets the batch timeout on session create .* use --wait-timeout/);
  t.is(json<SessionWire>(old.stdout).batchTimeout, 60);
});

test.serial(
  '--wait-timeout gives up with exit 3; the old --timeout of run, watch and events still does, with a warning',
  async (t) => {
    const c = await bai(stack, ['create', '--type', 'batch', '-t', 'wt-long', '-c', 'sleep 120', 'python']);
    t.is(c.code, 0, c.stderr);
    const [create, run, watch, events] = await Promise.all([
      bai(stack, [
        'create',
        '--type',
        'batch',
        '-t',
        'wt-create',
        '--wait',
        '--wait-timeout',
        '1',
        '-c',
        'sleep 120',
        'python',
      ]),
      bai(stack, [
        'run',
        '--rm',
        '-t',
        'wt-run',
        '--wait-timeout',
        '1s',
        '-c',
        'import time; time.sleep(120)',
        'python',
      ]),
      bai(stack, ['session', 'watch', 'wt-long', '--wait-timeout', '1']),
      bai(stack, ['events', '--wait', 'batch_session_result', '--wait-timeout', '1s', 'wt-long']),
    ]);
    t.is(create.code, 3);
    t.regex(create.stderr, /^Timeout: session wt-create did not end in 1 s\.\n$/);
    t.is(run.code, 3);
    t.regex(run.stderr, /^Timeout: session wt-run did not end in 1s; it was destroyed \(--rm\)\.\n$/);
    t.is(watch.code, 3);
    t.regex(watch.stderr, /^Timeout: session wt-long did not end in 1 s\.\n$/);
    t.is(events.code, 3);
    t.regex(events.stderr, /^Timeout: no batch_session_result event in 1s\.\n$/);

    const [oldRun, oldWatch, oldEvents] = await Promise.all([
      bai(stack, [
        'run',
        '--rm',
        '-t',
        'wt-run-old',
        '--timeout',
        '1',
        '-c',
        'import time; time.sleep(120)',
        'python',
      ]),
      bai(stack, ['watch', 'wt-long', '--timeout', '1']),
      bai(stack, ['session', 'events', '--timeout', '1', 'wt-long', '--json']),
    ]);
    for (const r of [oldRun, oldWatch, oldEvents]) {
      t.is(r.code, 3, r.stderr);
      t.is(r.stderr.match(/^Warning: /gm)?.length, 1, r.stderr);
      t.regex(r.stderr, /--timeout .*old name of --wait-timeout/);
    }
    t.regex(oldRun.stderr, /will set the batch timeout/);
    t.true(json<{ timedOut: boolean }>(oldEvents.stdout).timedOut);
    // Not both names at once.
    const both = await bai(stack, ['watch', 'wt-long', '--timeout', '1', '--wait-timeout', '1']);
    t.is(both.code, 2);
    const rm = await bai(stack, ['rm', 'wt-long', 'wt-create']);
    t.is(rm.code, 0, rm.stderr);
  },
);

test.serial('-m NAME=PATH:ro and NAME:ro send mount_options; -v stays an alias', async (t) => {
  const w = await bai(stack, [
    'run',
    '-t',
    'mount-rw',
    '-v',
    'flag-data=/home/work/data',
    '-c',
    'open("/home/work/data/f.txt", "w").write("x")',
    'python',
  ]);
  t.is(w.code, 0, w.stderr);
  const r = await bai(stack, [
    'run',
    '-t',
    'mount-ro',
    '-m',
    'flag-data=/home/work/data:ro',
    '-c',
    'print(open("/home/work/data/f.txt").read())',
    'python',
  ]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'x\n');
  const s = await info('mount-ro');
  t.is(s.mounts.length, 1);
  t.is(s.mounts[0]!.name, 'flag-data');
  t.is(s.mounts[0]!.target, '/home/work/data');
  t.true(s.mounts[0]!.readOnly);
  // Read-only in the container, not only in the record: a write fails (exit 3), the file stays.
  const ro = await bai(stack, [
    'run',
    '-t',
    'mount-ro-write',
    '-m',
    'flag-data=/home/work/data:ro',
    '-c',
    'import sys\ntry:\n    open("/home/work/data/f.txt", "w").write("y")\nexcept OSError:\n    sys.exit(3)',
    'python',
  ]);
  t.is(ro.code, 3, ro.stdout + ro.stderr);
  const again = await bai(stack, [
    'run',
    '-t',
    'mount-rw-read',
    '-v',
    'flag-data=/home/work/data',
    '-c',
    'print(open("/home/work/data/f.txt").read())',
    'python',
  ]);
  t.is(again.stdout, 'x\n', 'the read-only job did not change the file');
  const d = await bai(stack, [
    'run',
    '-t',
    'mount-default',
    '--mount',
    'flag-data:ro',
    '-c',
    'import os; print(os.path.exists("/home/work/flag-data/f.txt"))',
    'python',
  ]);
  t.is(d.code, 0, d.stderr);
  t.is(d.stdout, 'True\n');
  const bad = await bai(stack, ['run', '-m', 'flag-data=', '-c', 'print(1)', 'python']);
  t.is(bad.code, 4);
  t.regex(bad.stderr, /^Error: -m takes NAME\[=PATH\]\[:ro\]/);
});

test.serial('session logs -k reads the kernel named', async (t) => {
  const r = await bai(stack, ['run', '-t', 'logs-k', '-c', 'print("from main")', 'python']);
  t.is(r.code, 0, r.stderr);
  const kernel = (await info('logs-k')).kernels[0]!.kernelId;
  const [short, long] = await Promise.all([
    bai(stack, ['session', 'logs', '-k', kernel, 'logs-k', '--json']),
    bai(stack, ['logs', '--kernel-id', kernel, 'logs-k']),
  ]);
  t.is(short.code, 0, short.stderr);
  t.is(json<{ logs: string }>(short.stdout).logs, 'from main\n');
  t.is(long.stdout, 'from main\n');
  const none = await bai(stack, ['logs', '-k', '00000000-0000-4000-8000-000000000000', 'logs-k']);
  t.is(none.code, 1);
  t.regex(none.stderr, /No kernel "00000000-0000-4000-8000-000000000000" in this session/);
});

test.serial(
  'session rm -r cancels the sessions that depend on it, transitively; without -r only the one',
  async (t) => {
    const create = async (name: string, ...extra: string[]) => {
      const r = await bai(stack, [
        'create',
        '--type',
        'batch',
        '-t',
        name,
        ...extra,
        '-c',
        'sleep 120',
        'python',
      ]);
      t.is(r.code, 0, r.stderr);
    };
    await create('rec-root');
    await create('rec-child', '--depends', 'rec-root');
    await create('rec-grandchild', '--depends', 'rec-child');
    await create('rec-other');
    await waitForStatus(stack.client, 'rec-root', ['RUNNING']);
    const rm = await bai(stack, ['session', 'rm', '-r', 'rec-root', '--json']);
    t.is(rm.code, 0, rm.stderr);
    const [answer] = json<
      {
        session: string;
        status: string;
        dependents: { sessionName: string; status: string; statusInfo: string }[];
      }[]
    >(rm.stdout);
    t.deepEqual(
      answer!.dependents.map((d) => [d.sessionName, d.status, d.statusInfo]),
      [
        ['rec-grandchild', 'CANCELLED', 'user-requested'],
        ['rec-child', 'CANCELLED', 'user-requested'],
      ],
    );
    const root = await waitForStatus(stack.client, 'rec-root');
    t.is(root.statusInfo, 'user-requested');
    // A session that does not depend on it goes on.
    t.false(['CANCELLED', 'TERMINATED'].includes((await info('rec-other')).status));
    // Human output names each dependent, and --recursive is the long name.
    await create('rec2-root', '--starts-at', '1h');
    await create('rec2-child', '--depends', 'rec2-root');
    const human = await bai(stack, ['rm', '--recursive', 'rec2-root']);
    t.is(human.code, 0, human.stderr);
    t.regex(human.stdout, /^rec2-child: CANCELLED \(depends on rec2-root\)\nrec2-root: CANCELLED\n$/);
    t.is((await bai(stack, ['rm', 'rec-other'])).code, 0);
  },
);

test.serial('ps --dead, --running, --name-only, --detail', async (t) => {
  const done = await bai(stack, ['run', '-t', 'ps-dead', '-c', 'print(1)', 'python']);
  t.is(done.code, 0, done.stderr);
  const live = await bai(stack, [
    'create',
    '--type',
    'batch',
    '-t',
    'ps-running',
    '-c',
    'sleep 120',
    'python',
  ]);
  t.is(live.code, 0, live.stderr);
  await waitForStatus(stack.client, 'ps-running', ['RUNNING']);
  const names = async (...args: string[]) => {
    const r = await bai(stack, ['ps', '-n', '500', ...args, '--json']);
    t.is(r.code, 0, r.stderr);
    return json<SessionListWire>(r.stdout).items.map((s) => [s.sessionName, s.status]);
  };
  const dead = await names('--dead');
  t.true(dead.some(([n]) => n === 'ps-dead'));
  t.true(dead.every(([, s]) => s === 'TERMINATED' || s === 'CANCELLED'));
  const running = await names('--running');
  t.true(running.some(([n]) => n === 'ps-running'));
  t.true(running.every(([, s]) => s === 'RUNNING' || s === 'CREATING'));

  const only = await bai(stack, ['ps', '--running', '--name-only']);
  t.is(only.code, 0, only.stderr);
  t.true(only.stdout.split('\n').includes('ps-running'));
  t.regex(only.stdout, /^([^\s]+\n)+$/);
  const onlyJson = await bai(stack, ['ps', '--dead', '--name-only', '--json', '--name', 'ps-dead']);
  t.deepEqual(json<{ names: string[]; total: number }>(onlyJson.stdout), { names: ['ps-dead'], total: 1 });

  const detail = await bai(stack, ['ps', '--dead', '--detail', '--name', 'ps-dead']);
  t.is(detail.code, 0, detail.stderr);
  const [head, row] = detail.stdout.split('\n');
  t.regex(
    head!,
    /^ID\s+NAME\s+OWNER\s+TYPE\s+STATUS\s+REASON\s+RESULT\s+EXIT\s+PRIORITY\s+SGROUP\s+TAG\s+CREATED\s+ENDED\s+IMAGE/,
  );
  t.regex(
    row!,
    /^[0-9a-f-]{36}\s+ps-dead\s+\S+\s+batch\s+TERMINATED\s+\S+\s+SUCCESS\s+0\s+10\s+default\s+-\s/,
  );
  const clash = await bai(stack, ['ps', '--dead', '--running']);
  t.is(clash.code, 2);
  t.regex(clash.stderr, /--dead and --running choose statuses each/);
  t.is((await bai(stack, ['rm', 'ps-running'])).code, 0);
});
