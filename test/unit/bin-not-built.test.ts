import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { Cli } from 'clipanion';
import { runCli } from '../../src/cli/main.js';

// `npx bai` right after a clone without a build: bin/bai.js says what to run instead of a stack trace.

test('bin/bai.js without dist/ says to run npm run build and exits 1', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bai-bin-'));
  try {
    mkdirSync(join(dir, 'bin'));
    copyFileSync(fileURLToPath(new URL('../../../bin/bai.js', import.meta.url)), join(dir, 'bin', 'bai.js'));
    const res = spawnSync(process.execPath, [join(dir, 'bin', 'bai.js'), 'status'], { encoding: 'utf8' });
    t.is(res.status, 1);
    t.is(res.stdout, '');
    t.is(res.stderr, `bai is not built yet: run "npm run build" in ${dir}/, then run bai again.\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bin/bai.js runs the built CLI', (t) => {
  const res = spawnSync(
    process.execPath,
    [fileURLToPath(new URL('../../../bin/bai.js', import.meta.url)), '--version'],
    {
      encoding: 'utf8',
    },
  );
  t.is(res.status, 0, res.stderr);
  t.regex(res.stdout, /^\d+\.\d+\.\d+\n$/);
});

// bin/bai.js answers --version itself, without loading the CLI: the same line clipanion prints.
test('bin/bai.js --version and -v print what the CLI prints', async (t) => {
  const bin = fileURLToPath(new URL('../../../bin/bai.js', import.meta.url));
  for (const flag of ['--version', '-v']) {
    const stdout = new PassThrough();
    let printed = '';
    stdout.on('data', (c: Buffer) => (printed += c.toString()));
    const code = await runCli([flag], { ...Cli.defaultContext, stdout, stderr: new PassThrough() });
    t.is(code, 0);
    const res = spawnSync(process.execPath, [bin, flag], { encoding: 'utf8' });
    t.is(res.status, 0, res.stderr);
    t.is(res.stdout, printed, flag);
  }
});
