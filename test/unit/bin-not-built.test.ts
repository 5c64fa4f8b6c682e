import test from 'ava';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
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
    for (const f of ['bai.js', 'package.json'])
      copyFileSync(fileURLToPath(new URL(`../../../bin/${f}`, import.meta.url)), join(dir, 'bin', f));
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

// bin/bai.js runs the CLI from its bundle (scripts/bundle-cli.ts), unless the bundle is older
// than the compiled modules (tsc run again without it); the manager and the agent never from it.
test('bin/bai.js: the bundle for the CLI while it is fresh, dist/ for a stale one and for the services', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bai-bin-'));
  try {
    for (const d of ['bin', 'dist/src/cli', 'dist/src/cli-bundle'])
      mkdirSync(join(dir, d), { recursive: true });
    for (const f of ['bai.js', 'package.json'])
      copyFileSync(fileURLToPath(new URL(`../../../bin/${f}`, import.meta.url)), join(dir, 'bin', f));
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    const main = join(dir, 'dist/src/cli/main.js');
    const bundle = join(dir, 'dist/src/cli-bundle/main.cjs');
    writeFileSync(main, "process.stdout.write('compiled ' + process.argv[2]);\n");
    writeFileSync(bundle, "process.stdout.write('bundle ' + process.argv[2]);\n");
    const run = (cmd: string) => {
      const res = spawnSync(process.execPath, [join(dir, 'bin', 'bai.js'), cmd], { encoding: 'utf8' });
      t.is(res.status, 0, res.stderr);
      return res.stdout;
    };
    const at = (file: string, s: number) => utimesSync(file, s, s);
    at(main, 1_000);
    at(bundle, 2_000);
    t.is(run('status'), 'bundle status');
    t.is(run('manager'), 'compiled manager');
    t.is(run('agent'), 'compiled agent');
    at(main, 3_000);
    t.is(run('status'), 'compiled status', 'a bundle older than the compiled modules is not used');
    rmSync(bundle);
    t.is(run('status'), 'compiled status');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
