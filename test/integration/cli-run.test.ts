import test from 'ava';
import { stripAnsi } from '../../src/cli/output.js';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openRedis } from '../../src/queue/redis.js';
import { testEnv } from '../helpers/env.js';
import { bai, spawnBai } from '../helpers/cli.js';
import { makeFolder } from '../helpers/folders.js';
import { pauseReports, resumeReports } from '../helpers/reports.js';
import { startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

// `bai run` and the waiting commands (`session watch`, `session events --wait`): live output,
// and the job's exit code carried to the shell.

let stack: TestStack;
const redis = openRedis(testEnv().redisUrl);
let gates: string;
test.before(async () => {
  stack = await startTestStack({ agents: 2 });
  // Storage folders belong to a keypair: the CLI's (the stack's admin) creates the ones used here.
  gates = await makeFolder(stack.client, stack.agentConfig(1).storageRoot, 'gates');
  await makeFolder(stack.client, stack.agentConfig(1).storageRoot, 'shared-data');
});
test.after.always(async () => {
  await stack?.close();
  redis.disconnect();
});

// eslint-disable-next-line no-control-regex
const PROGRESS = /\r\u001b\[2K[^\r\n]*/g;

test.serial('bai run shows stdout and stderr, streams them live, and passes exit code 3', async (t) => {
  // The order of events decides, not the machine's speed: the job prints "first", then waits
  // for a gate the test opens only once "first" reached the terminal; meanwhile the manager's
  // report consumer is paused, so the session is not even RUNNING in the database yet. Live
  // output must not wait for that report.
  // Each agent reports through a stream of its own: the managers hold them all.
  await pauseReports(redis, stack.prefix);
  let resumed = false;
  const resume = async () => {
    if (resumed) return;
    resumed = true;
    await resumeReports(redis, stack.prefix);
  };
  let statusAtFirst = null as string | null;
  let firstSeen!: () => void;
  const first = new Promise<void>((resolve) => (firstSeen = resolve));
  try {
    const run = bai(
      stack,
      [
        'run',
        '-t',
        'live-job',
        '-v',
        'gates=/gates',
        '-c',
        'import os, sys, time\nprint("first", flush=True)\n' +
          'while not os.path.exists("/gates/live.go"):\n    time.sleep(0.05)\n' +
          'print("oops", file=sys.stderr, flush=True)\ntime.sleep(0.5)\nprint("last")\nsys.exit(3)',
        'python',
      ],
      { onStdout: (text) => text.includes('first') && firstSeen() },
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      first,
      run.then((r) => {
        throw new Error(`bai run ended before any output: ${JSON.stringify(r)}`);
      }),
      new Promise((_, fail) => {
        // Generous: the container only has to start; its RUNNING report is held back.
        timer = setTimeout(() => fail(new Error('no output while the RUNNING report was pending')), 60_000);
      }),
    ]).finally(() => clearTimeout(timer));
    statusAtFirst = (await stack.client.request<SessionWire>('GET', '/session/live-job')).status;
    await resume();
    writeFileSync(join(gates, 'live.go'), '');
    const r = await run;
    t.is(r.code, 3, r.stderr);
    t.is(r.stdout, 'first\noops\nlast\n');
    t.is(r.stderr, '');
  } finally {
    await resume();
  }
  // "first" reached the terminal before the RUNNING report was even applied, so before the
  // exit: streamed from the container's start, not printed at the end.
  t.true(
    ['SCHEDULED', 'PREPARING', 'PULLING', 'PREPARED', 'CREATING'].includes(statusAtFirst ?? ''),
    String(statusAtFirst),
  );
  // (stdout and stderr travel apart inside Docker: their order is kept across the pause only.)
});

test('a long bai run leaves no listener behind: no MaxListenersExceededWarning', async (t) => {
  // A real process: Node prints its warnings on the process's own stderr.
  const { output, exited } = spawnBai(stack, [
    'run',
    '-c',
    'import time\nfor i in range(8):\n    print(i, flush=True)\n    time.sleep(0.5)',
    'python',
  ]);
  const code = await exited;
  const { stdout, stderr } = output;
  t.is(code, 0, stderr);
  // Polled every 200 ms for 4 s at least: well over the 10 listeners Node warns at.
  t.is(stdout, '0\n1\n2\n3\n4\n5\n6\n7\n');
  t.is(stderr, '');
});

test('bai run prints a long, fast output exactly once, in order', async (t) => {
  const r = await bai(stack, [
    'run',
    '-c',
    // One write a line: thousands of chunks, read back a page at a time while it runs.
    'import time\nfor i in range(3000):\n    print(i, flush=True)\n    if i % 300 == 0:\n        time.sleep(0.1)',
    'python',
  ]);
  t.is(r.code, 0, r.stderr);
  const expected = Array.from({ length: 3000 }, (_, i) => `${i}\n`).join('');
  t.is(r.stdout.length, expected.length);
  t.true(r.stdout === expected, 'output lost, repeated or reordered');
});

test('bai run takes -e, -r, -v, --sgroup, --starts-at and -t; --json has the output', async (t) => {
  const t0 = Date.now();
  const write = await bai(stack, [
    'run',
    '-t',
    'flags-job',
    '-e',
    'GREETING=hello there',
    '-e',
    'EMPTY=',
    '-r',
    'cpu=1',
    '-r',
    'mem=256m',
    '-v',
    'shared-data=/data',
    '--sgroup',
    'default',
    '--starts-at',
    '2s',
    '--json',
    '-c',
    'import os\nopen("/data/note.txt", "w").write("kept")\nprint(os.environ["GREETING"], repr(os.environ["EMPTY"]))',
    'python',
  ]);
  t.is(write.code, 0, write.stderr);
  const info = JSON.parse(write.stdout) as SessionWire & {
    output: string;
    occupiedSlots: Record<string, unknown>;
  };
  t.is(info.output, "hello there ''\n");
  t.is(info.sessionName, 'flags-job');
  t.is(info.result, 'SUCCESS');
  t.is(info.scalingGroup, 'default');
  t.true(Date.parse(info.startsAt!) >= t0 + 1500, 'starts_at was not honoured');
  t.true(Date.parse(info.kernels[0]!.startedAt!) >= Date.parse(info.startsAt!));
  t.is(Number(info.occupiedSlots.cpu), 1);
  // The storage folder outlives the session: a second run reads it.
  const read = await bai(stack, [
    'run',
    '-v',
    'shared-data=/data',
    '-c',
    'print(open("/data/note.txt").read())',
    'python',
  ]);
  t.is(read.stdout, 'kept\n');
  t.is(read.code, 0);
});

test('bai run --wait-timeout gives up with exit 3, and --rm destroys the session', async (t) => {
  const r = await bai(stack, [
    'run',
    '--rm',
    '--wait-timeout',
    '2s',
    '-t',
    'slow-job',
    '-c',
    'import time; time.sleep(60)',
    'python',
  ]);
  t.is(r.code, 3);
  t.regex(r.stderr, /^Timeout: session slow-job did not end in 2s; it was destroyed \(--rm\)\.\n$/);
  const s = await waitForStatus(stack.client, 'slow-job');
  t.is(s.statusInfo, 'user-requested');
});

test('a job killed by its batch timeout exits 3; a job that never runs exits 1 with the reason', async (t) => {
  const killed = await bai(stack, [
    'run',
    '--batch-timeout',
    '1s',
    '-c',
    'import time; time.sleep(60)',
    'python',
  ]);
  t.is(killed.code, 3);
  t.regex(killed.stderr, /batch timeout was reached/);
  const bad = await bai(stack, ['run', '-c', 'print(1)', 'no-such-image']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /^Error: No such .*\(HTTP 404 object-not-found\)\n$/);
});

test('watch and events --wait pass the exit code: 0, 3, and 3 on a timeout', async (t) => {
  const submit = async (name: string, code: string) => {
    const r = await bai(stack, ['session', 'create', '--type', 'batch', '-t', name, '-c', code, 'python']);
    t.is(r.code, 0, r.stderr);
  };
  await submit('ok-job', 'sleep 1; echo fine');
  await submit('three-job', 'sleep 1; exit 3');
  await submit('long-job', 'sleep 60');

  const [w0, w3, wt] = await Promise.all([
    bai(stack, ['session', 'watch', 'ok-job', '--json']),
    bai(stack, ['watch', 'three-job']),
    bai(stack, ['session', 'watch', 'long-job', '--wait-timeout', '1']),
  ]);
  t.is(w0.code, 0, w0.stderr);
  t.is((JSON.parse(w0.stdout) as SessionWire).result, 'SUCCESS');
  t.is(w3.code, 3, w3.stderr);
  t.regex(w3.stdout, /^three-job TERMINATED \(task-failed\) result=FAILURE exit=3\n$/);
  t.is(wt.code, 3);
  t.regex(wt.stderr, /^Timeout: session long-job did not end in 1 s\.\n$/);

  const [e0, e3, et] = await Promise.all([
    bai(stack, ['session', 'events', '--wait', 'batch_session_result', 'ok-job', '--json']),
    bai(stack, ['events', '--wait', 'batch_session_result', 'three-job']),
    bai(stack, ['session', 'events', '--wait', 'batch_session_result', '--wait-timeout', '1s', 'long-job']),
  ]);
  t.is(e0.code, 0, e0.stderr);
  const doc = JSON.parse(e0.stdout) as {
    events: { event: string; exitCode: number | null }[];
    exitCode: number;
  };
  t.is(doc.exitCode, 0);
  const names = doc.events.map((e) => e.event);
  t.is(names[0], 'session_enqueued');
  t.true(names.includes('session_started'));
  // It stops at the result, which comes before session_terminated.
  t.is(names.at(-1), 'session_success');
  t.false(names.includes('session_terminated'));
  t.is(e3.code, 3, e3.stderr);
  t.regex(e3.stdout, /session_failure +TERMINATED {2}task-failed {2}exit=3\n$/);
  t.is(et.code, 3);
  t.regex(et.stderr, /^Timeout: no batch_session_result event in 1s\.\n$/);

  const rm = await bai(stack, ['session', 'rm', 'long-job', '--json']);
  t.is(rm.code, 0, rm.stderr);
  t.is((JSON.parse(rm.stdout) as { session: string }[])[0]!.session, 'long-job');
});

test('on a TTY the output differs only in colour and the progress line', async (t) => {
  const code = 'import time; time.sleep(0.5); print("out")';
  const plain = await bai(stack, ['run', '-t', 'tty-off', '-c', code, 'python']);
  const tty = await bai(stack, ['run', '-t', 'tty-on', '-c', code, 'python'], { tty: true });
  t.is(plain.code, 0);
  t.is(tty.code, 0);
  t.true(tty.stderr.includes('\r\u001b[2K'), 'no progress line on a TTY');
  t.regex(stripAnsi(tty.stderr), /tty-on {2}PENDING → .*RUNNING/);
  t.is(plain.stderr, '');
  t.is(stripAnsi(tty.stdout), plain.stdout);
  t.is(stripAnsi(tty.stderr).replace(PROGRESS, ''), plain.stderr);

  const normalise = (s: string) => stripAnsi(s).replace(/\d+ (s|min) ago/g, 'N ago');
  for (const args of [
    ['session', 'watch', 'tty-on'],
    ['session', 'info', 'tty-on'],
    ['ps', '-a', '--name', 'tty-on'],
    ['session', 'status-history', 'tty-on'],
  ]) {
    const [a, b] = await Promise.all([bai(stack, args), bai(stack, args, { tty: true })]);
    t.is(a.code, 0);
    t.is(b.code, 0);
    t.not(b.stdout, a.stdout, `${args.join(' ')}: no colour on a TTY`);
    t.is(normalise(b.stdout), normalise(a.stdout), args.join(' '));
    t.is(stripAnsi(b.stderr).replace(PROGRESS, ''), a.stderr);
  }
});

test('Ctrl-C on bai run --rm exits 130 and destroys the session', async (t) => {
  const { child, output, exited } = spawnBai(stack, [
    'run',
    '--rm',
    '-t',
    'sigint-job',
    '-c',
    'import time\nprint("started", flush=True)\ntime.sleep(60)',
    'python',
  ]);
  await new Promise<void>((resolve) =>
    child.stdout.on('data', () => {
      if (output.stdout.includes('started')) resolve();
    }),
  );
  child.kill('SIGINT');
  t.is(await exited, 130, output.stderr);
  const { stdout, stderr } = output;
  t.is(stdout, 'started\n');
  t.is(stderr, 'Interrupted: session sigint-job was destroyed (--rm).\n');
  const s = await waitForStatus(stack.client, 'sigint-job');
  t.is(s.statusInfo, 'user-requested');
});
