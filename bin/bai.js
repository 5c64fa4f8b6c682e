#!/usr/bin/env node
// The one binary: the CLI, `bai manager` and `bai agent` are subcommands. Built code lives in dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  process.stderr.write(`bai is not built yet: run "npm run build" in ${root}, then run bai again.\n`);
  process.exit(1);
}
await import(main.href);
