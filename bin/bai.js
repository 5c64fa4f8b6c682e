#!/usr/bin/env node
// The one binary: the CLI, `bai manager` and `bai agent` are subcommands. Built code lives in dist/.
// CommonJS (bin/package.json), so that a CLI call, which requires one bundled file, never starts
// Node's ES module loader (docs/benchmarks.md, "Round seventeen").
'use strict';
const { statSync } = require('node:fs');
const { join } = require('node:path');
const { pathToFileURL } = require('node:url');

const args = process.argv.slice(2);
// `bai --version` needs none of the CLI (clipanion prints the same line; a test compares them).
const versionOnly = args.length === 1 && (args[0] === '--version' || args[0] === '-v');
const server = args[0] === 'manager' || args[0] === 'agent';
/** Whether the operator gave node a flag of this kind (on its command line or in NODE_OPTIONS). */
const ownFlag = (kind) => kind.test(`${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`);
// A long-running manager or agent keeps V8's young generation at its initial 1 MB semi-spaces
// instead of letting it grow to 16 MB each: its requests allocate little that lives, and the
// grown young generation was a third of an idle manager's RSS (docs/benchmarks.md, "Round three:
// footprint"). Set before anything loads, as the space grows during start-up. An operator's own
// young-generation flag (`node --max-semi-space-size=N`, NODE_OPTIONS) wins.
// The agent also runs V8 tuned for size: it kept the old space a burst of sessions grew, over
// 80 MB of RSS while idle; tuned, under 79 MB, for a few per cent of its CPU (docs/benchmarks.md,
// "Round seventeen"). The manager, whose CPU is most of the control plane's, is not. An
// operator's `node --no-optimize-for-size` wins.
// node:v8 is loaded for them alone: its load is ~2 ms of every CLI call's CPU.
if (server) {
  const v8 = require('node:v8');
  if (!ownFlag(/semi[-_]space/)) v8.setFlagsFromString('--semi-space-growth-factor=1');
  if (args[0] === 'agent' && !ownFlag(/optimize[-_]for[-_]size/))
    v8.setFlagsFromString('--optimize-for-size');
}

const root = join(__dirname, '../');
const main = join(root, 'dist/src/cli/main.js');
// The CLI's commands run from one bundle of the same compiled modules (scripts/bundle-cli.ts);
// the manager and the agent run from dist/ as compiled. A bundle older than the compiled modules
// (tsc run again without it) is not used.
const bundle = join(root, 'dist/src/cli-bundle/main.cjs');
/** Modified time of a built file, or -1 when it is not there. */
const mtime = (file) => statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? -1;
const built = versionOnly ? 0 : mtime(main);

if (versionOnly) process.stdout.write('0.1.0\n');
else if (built < 0) {
  process.stderr.write(`bai is not built yet: run "npm run build" in ${root}, then run bai again.\n`);
  process.exitCode = 1;
} else if (!server && mtime(bundle) >= built) require(bundle);
else
  import(pathToFileURL(main).href).catch((err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exitCode = 1;
  });
