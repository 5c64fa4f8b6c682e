import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BARRIER_ARG0,
  BARRIER_HELD,
  BARRIER_MIN_LEAD_MS,
  BARRIER_MOUNT,
  BARRIER_SCRIPT,
  BARRIER_SHELL,
  BARRIER_WAIT,
  LEGACY_BARRIER_SCRIPT,
  barrierCommand,
  barrierFolder,
  effectiveArgv,
  heldAtBarrier,
  pathsTheBarrierNeeds,
  releaseSeen,
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
  const plain = barrierCommand({ entrypoint: null, cmd: ['bash'] }, ['python3', '-c', 'print(1)']);
  t.deepEqual(plain, {
    entrypoint: [BARRIER_SHELL, '-c', BARRIER_SCRIPT, BARRIER_ARG0],
    cmd: ['python3', '-c', 'print(1)'],
    argv: ['python3', '-c', 'print(1)'],
  });
  // Setting an entrypoint makes Docker drop the image's CMD: the barrier passes it on itself.
  const withEntry = barrierCommand({ entrypoint: ['/docker-entrypoint.sh'], cmd: ['postgres'] }, null);
  t.deepEqual(withEntry?.cmd, ['/docker-entrypoint.sh', 'postgres']);
  t.deepEqual(withEntry?.entrypoint, [BARRIER_SHELL, '-c', BARRIER_SCRIPT, BARRIER_ARG0]);
  const both = barrierCommand({ entrypoint: ['/tini', '--'], cmd: ['x'] }, startup);
  t.deepEqual(both?.cmd, ['/tini', '--', ...startup]);
  // Nothing to run: Docker refuses it, so no barrier turns it into a silent success.
  t.is(barrierCommand({ entrypoint: null, cmd: null }, null), null);
});

test('a shell command is fused into the barrier shell: the wait, a newline, the script, the same $0', (t) => {
  t.deepEqual(barrierCommand({ entrypoint: null, cmd: ['bash'] }, startup), {
    entrypoint: [BARRIER_SHELL, '-c', `${BARRIER_WAIT}\n${startup[2]}`],
    cmd: [BARRIER_SHELL],
    argv: startup,
  });
  const named = ['/bin/sh', '-c', 'echo "$0:$1"', 'name', 'arg'];
  t.deepEqual(barrierCommand({ entrypoint: null, cmd: null }, named)?.cmd, ['name', 'arg']);
  // Another shell, or a flag before -c: exec'd after the wait as any argv.
  const bash = ['/bin/bash', '-c', 'echo'];
  t.deepEqual(barrierCommand({ entrypoint: null, cmd: null }, bash)?.entrypoint.slice(2), [
    BARRIER_SCRIPT,
    BARRIER_ARG0,
  ]);
});

/** A barrier script made runnable here: the word from stdin, `held` a file in `dir`. */
function local(script: string, dir: string): string {
  return script.replace(`${BARRIER_MOUNT}/${BARRIER_HELD}`, join(dir, BARRIER_HELD)).replace(/< \S+/, '');
}

test('the barrier script runs each argument as one word, only after a line is read', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bai-barrier-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // The script itself, run by the machine's /bin/sh.
  const script = local(BARRIER_SCRIPT, dir);
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

test('a fused command runs after the word with its $0 and arguments; not at all without it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bai-barrier-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const run = (argv: string[], input: string) => {
    const b = barrierCommand({ entrypoint: null, cmd: null }, argv)!;
    const [sh, c, script] = b.entrypoint as [string, string, string];
    return execFileSync(sh, [c, local(script, dir), ...b.cmd], { input, stdio: 'pipe' }).toString();
  };
  t.is(run(['/bin/sh', '-c', 'echo "$0|$#|$1"'], 'go\n'), '/bin/sh|0|\n');
  t.is(run(['/bin/sh', '-c', 'echo "$0|$#|$1"', 'me', 'a b'], 'go\n'), 'me|1|a b\n');
  // The job's fd 9 is not the barrier's (closed before the script runs).
  t.is(
    run(['/bin/sh', '-c', 'if (: >&9) 2>/dev/null; then echo open; else echo closed; fi'], 'go\n'),
    'closed\n',
  );
  const never = (script: string) =>
    t.throws(() => run(['/bin/sh', '-c', script], '')) as Error & { status: number; stdout: Buffer };
  t.is(never('echo ran').status, 125);
  // A syntax error in the script is not seen before the word (read line by line, as unfused).
  const e = never('echo ran; if');
  t.is(e.status, 125);
  t.is(e.stdout.toString(), '');
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
  t.deepEqual(pathsTheBarrierNeeds(barrierCommand({ entrypoint: null, cmd: null }, ['/app', 'x'])!.argv), [
    '/bin/sh',
    '/app',
  ]);
  t.deepEqual(pathsTheBarrierNeeds(startup), ['/bin/sh']);
  t.deepEqual(pathsTheBarrierNeeds(['/app', '--port']), ['/bin/sh', '/app']);
  t.deepEqual(pathsTheBarrierNeeds(['python3', '-c', 'x']), ['/bin/sh'], 'a PATH lookup: not checked');
});

test('a container held by an older agent is held while its barrier shell waits (ps)', (t) => {
  const held = `${BARRIER_SHELL} -c ${LEGACY_BARRIER_SCRIPT} ${BARRIER_ARG0} /bin/sh -c sleep 1`;
  t.true(heldAtBarrier([held]));
  t.true(heldAtBarrier(['/usr/bin/something', held]));
  t.false(heldAtBarrier(['/bin/sh -c sleep 1']));
  t.false(heldAtBarrier([]));
  t.is(barrierFolder('/var/lib/bai/barrier/', 'bai-k1.2'), '/var/lib/bai/barrier/bai-k1.2');
});

test('a release an agent did not see end: held, ran, or not known until the shell had time to reach its barrier', (t) => {
  const wait = 10_000;
  // A shell that holds `held` waits for its word, whatever else is written.
  t.is(releaseSeen('held', false, 0, wait), 'held');
  t.is(releaseSeen('held', false, wait + 1, wait), 'held');
  // Every word written, or an older agent's shell that `ps` shows past the barrier: it ran.
  t.is(releaseSeen('unseen', true, 0, wait), 'ran');
  t.is(releaseSeen('past', false, 0, wait), 'ran');
  // No shell holds `held` and nothing says the word was written: moments after its start the
  // shell may not be there yet (ask again); once it had the time to be, it read its word.
  t.is(releaseSeen('unseen', false, 0, wait), 'wait');
  t.is(releaseSeen('unseen', false, wait, wait), 'wait');
  t.is(releaseSeen('unseen', false, wait + 1, wait), 'ran');
  t.is(releaseSeen('unseen', false, Infinity, wait), 'ran');
});
