import test from 'ava';
import { execFileSync } from 'node:child_process';
import {
  BARRIER_ARG0,
  BARRIER_MIN_LEAD_MS,
  BARRIER_SCRIPT,
  BARRIER_SHELL,
  barrierCommand,
  barrierFolder,
  effectiveArgv,
  heldAtBarrier,
  pathsTheBarrierNeeds,
  wantsBarrier,
} from '../../src/domain/start-barrier.js';

const startup = ['/bin/sh', '-c', 'python3 -c "import time; print(time.time())"'];

test('the argv Docker runs: image ENTRYPOINT, then the command (or the image CMD when none is given)', (t) => {
  t.deepEqual(effectiveArgv({ entrypoint: null, cmd: ['python3'] }, startup), startup);
  t.deepEqual(effectiveArgv({ entrypoint: null, cmd: ['python3', '-i'] }, null), ['python3', '-i']);
  t.deepEqual(effectiveArgv({ entrypoint: ['/tini', '--'], cmd: ['serve'] }, startup), [
    '/tini',
    '--',
    ...startup,
  ]);
  t.deepEqual(effectiveArgv({ entrypoint: ['/app'], cmd: ['--port', '80'] }, null), ['/app', '--port', '80']);
  t.deepEqual(effectiveArgv({ entrypoint: ['/app'], cmd: ['--port'] }, []), ['/app', '--port']);
  t.deepEqual(effectiveArgv({ entrypoint: null, cmd: null }, null), []);
});

test('the barrier runs the same argv after its read: an ENTRYPOINT image keeps entrypoint + command', (t) => {
  const plain = barrierCommand({ entrypoint: null, cmd: ['bash'] }, startup);
  t.deepEqual(plain, { entrypoint: [BARRIER_SHELL, '-c', BARRIER_SCRIPT, BARRIER_ARG0], cmd: startup });
  // Setting an entrypoint makes Docker drop the image's CMD: the barrier passes it on itself.
  const withEntry = barrierCommand({ entrypoint: ['/docker-entrypoint.sh'], cmd: ['postgres'] }, null);
  t.deepEqual(withEntry?.cmd, ['/docker-entrypoint.sh', 'postgres']);
  t.deepEqual(withEntry?.entrypoint, [BARRIER_SHELL, '-c', BARRIER_SCRIPT, BARRIER_ARG0]);
  const both = barrierCommand({ entrypoint: ['/tini', '--'], cmd: ['x'] }, startup);
  t.deepEqual(both?.cmd, ['/tini', '--', ...startup]);
  // Nothing to run: Docker refuses it, so no barrier turns it into a silent success.
  t.is(barrierCommand({ entrypoint: null, cmd: null }, null), null);
});

test('the barrier script runs each argument as one word, only after a line is read', (t) => {
  // The script itself, with the FIFO replaced by stdin, run by the machine's /bin/sh.
  const script = BARRIER_SCRIPT.replace(/< \S+/, '');
  const argv = ['printf', '[%s]', 'a b', "it's", '$HOME', ''];
  const out = execFileSync('/bin/sh', ['-c', script, BARRIER_ARG0, ...argv], { input: 'go\n' });
  t.is(out.toString(), "[a b][it's][$HOME][]");
  // End of input without the word: the command does not run, exit 125.
  const err = t.throws(() =>
    execFileSync('/bin/sh', ['-c', script, BARRIER_ARG0, 'echo', 'ran'], { input: '', stdio: 'pipe' }),
  ) as Error & { status: number; stdout: Buffer };
  t.is(err.status, 125);
  t.is(err.stdout.toString(), '');
});

test('a session is held at a barrier only with a start time far enough ahead and the barrier on', (t) => {
  const now = 1_000_000;
  t.true(wantsBarrier(now + 30_000, now, true));
  t.true(wantsBarrier(now + BARRIER_MIN_LEAD_MS, now, true));
  t.false(wantsBarrier(now + BARRIER_MIN_LEAD_MS - 1, now, true), 'too close: started as before');
  t.false(wantsBarrier(now - 5, now, true), 'already due');
  t.false(wantsBarrier(null, now, true), 'no start time');
  t.false(wantsBarrier(now + 30_000, now, false), 'BAI_START_BARRIER=off');
});

test('no-shell fallback: the barrier needs /bin/sh, and an absolute program it would exec', (t) => {
  t.deepEqual(pathsTheBarrierNeeds(startup), ['/bin/sh']);
  t.deepEqual(pathsTheBarrierNeeds(['/app', '--port']), ['/bin/sh', '/app']);
  t.deepEqual(pathsTheBarrierNeeds(['python3', '-c', 'x']), ['/bin/sh'], 'a PATH lookup: not checked');
});

test('a container is held while its barrier shell waits; released once it became the command', (t) => {
  const held = `${BARRIER_SHELL} -c ${BARRIER_SCRIPT} ${BARRIER_ARG0} /bin/sh -c sleep 1`;
  t.true(heldAtBarrier([held]));
  t.true(heldAtBarrier(['/usr/bin/something', held]));
  t.false(heldAtBarrier(['/bin/sh -c sleep 1']));
  t.false(heldAtBarrier([]));
  t.is(barrierFolder('/var/lib/bai/barrier/', 'bai-k1.2'), '/var/lib/bai/barrier/bai-k1.2');
});
