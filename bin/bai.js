#!/usr/bin/env node
// The one binary: the CLI, `bai manager` and `bai agent` are subcommands. Built code lives in dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
// `bai --version` needs none of the CLI (clipanion prints the same line; a test compares them).
const versionOnly = args.length === 1 && (args[0] === '--version' || args[0] === '-v');
// A long-running manager or agent keeps V8's young generation at its initial 1 MB semi-spaces
// instead of letting it grow to 16 MB each: its requests allocate little that lives, and the
// grown young generation was a third of an idle manager's RSS (docs/benchmarks.md, "Round three:
// footprint"). Set before anything loads, as the space grows during start-up. An operator's own
// young-generation flag (`node --max-semi-space-size=N`, NODE_OPTIONS) wins.
const ownYoungFlag = /semi[-_]space/.test(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`);
// node:v8 is loaded for them alone: its load is ~2 ms of every CLI call's CPU.
if ((args[0] === 'manager' || args[0] === 'agent') && !ownYoungFlag)
  (await import('node:v8')).setFlagsFromString('--semi-space-growth-factor=1');

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (versionOnly) process.stdout.write('0.1.0\n');
else if (!existsSync(fileURLToPath(main))) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  process.stderr.write(`bai is not built yet: run "npm run build" in ${root}, then run bai again.\n`);
  process.exitCode = 1;
} else await import(main.href);
