import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { closedStdoutHandler } from '../../src/cli/closed-stdout.js';

const epipe = () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });

test('a command whose reader went away stops quietly with status 0', (t) => {
  const exits: number[] = [];
  const handle = closedStdoutHandler(['ps', '-a'], { exit: (code) => exits.push(code) });
  handle(epipe());
  // Writes after it fail too: they change nothing.
  handle(Object.assign(new Error('write after end'), { code: 'ERR_STREAM_DESTROYED' }));
  t.deepEqual(exits, [0]);
});

test('bai up, down and reset finish their work without their reader', (t) => {
  for (const word of ['up', 'down', 'reset']) {
    const exits: number[] = [];
    const handle = closedStdoutHandler([word], { exit: (code) => exits.push(code) });
    handle(epipe());
    handle(epipe());
    t.deepEqual(exits, [], word);
  }
});

test('any other error on stdout is thrown, as before', (t) => {
  const handle = closedStdoutHandler(['ps'], { exit: () => t.fail('no exit') });
  t.throws(() => handle(Object.assign(new Error('disk full'), { code: 'ENOSPC' })), { message: 'disk full' });
});

test('bai with its stdout closed before it writes: status 0, nothing on stderr', async (t) => {
  const bin = fileURLToPath(new URL('../../../bin/bai.js', import.meta.url));
  const child = spawn(process.execPath, [bin, 'completion', 'bash'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  t.is(stderr, '');
  t.is(code, 0);
});
