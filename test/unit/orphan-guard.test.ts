import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { eventually } from '../helpers/eventually.js';
import { guardedNodeArgs } from '../helpers/orphan-guard-args.js';

/** Whether `pid` runs (a zombie waiting for its reaper has ended). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    // Expected: ENOENT, the process is gone and reaped.
    return false;
  }
}

/** A middle process (the test worker's stand-in) that spawns a child, guarded or not. */
async function spawnMiddle(guarded: boolean): Promise<{ middle: number; child: number }> {
  const args = JSON.stringify([...(guarded ? guardedNodeArgs() : []), '-e', 'setInterval(() => {}, 1000)']);
  const middle = spawn(
    process.execPath,
    [
      '-e',
      `const c = require('node:child_process').spawn(process.execPath, ${args}, { stdio: ['pipe', 'ignore', 'ignore'] });
       console.log(c.pid); setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const child = await new Promise<number>((ok, fail) => {
    let out = '';
    middle.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('\n')) ok(Number(out.trim()));
    });
    middle.on('exit', (code) => fail(new Error(`middle exited ${code}`)));
  });
  return { middle: middle.pid!, child };
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Expected: ESRCH, already gone.
  }
}

test('a guarded child ends when the process that spawned it is killed', async (t) => {
  const { middle, child } = await spawnMiddle(true);
  t.teardown(() => [middle, child].forEach(kill));
  t.true(running(child));
  kill(middle);
  const ended = await eventually(() => !running(child), { message: 'the orphaned child to end' });
  t.true(ended);
  t.false(running(child));
});

test('without the guard the orphan would live on (what the guard is for)', async (t) => {
  const { middle, child } = await spawnMiddle(false);
  t.teardown(() => [middle, child].forEach(kill));
  kill(middle);
  await eventually(() => !running(middle), { message: 'the middle process to end' });
  t.true(running(child));
});
