import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';

/**
 * `node --import <this file>`: writes the modules a process loads to BAI_MODULE_TRACE, one URL a
 * line. ESM modules (and the CommonJS entry points they import) through loader hooks as they load;
 * CommonJS modules that CommonJS requires (invisible to the hooks in Node 20) from `require.cache`
 * when the process exits, and then a line `v8:new_space <bytes>`: the size V8's young generation
 * grew to (bin/bai.js keeps a manager's and an agent's small). For tests of which libraries a command loads (test/integration/
 * module-loading.test.ts).
 */
const out = process.env.BAI_MODULE_TRACE;
if (out) {
  register(pathToFileURL(resolve(fileURLToPath(import.meta.url), '../module-trace-hooks.js')), {
    data: { out },
  });
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    appendFileSync(
      out,
      Object.keys(cache)
        .map((f) => `${pathToFileURL(f).href}\n`)
        .join(''),
    );
    const young = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    appendFileSync(out, `v8:new_space ${young?.space_size ?? -1}\n`);
  });
}

/** The `NODE_OPTIONS` that load this trace into a child process. */
export function traceNodeOptions(): string {
  return `--import=${pathToFileURL(fileURLToPath(import.meta.url)).href}`;
}

/** The size of V8's young generation (new space) in a trace file's text, at the process's exit. */
export function newSpaceBytesIn(trace: string): number {
  const m = /^v8:new_space (-?\d+)$/m.exec(trace);
  return m ? Number(m[1]) : NaN;
}

/** The npm packages named in a trace file's text (`koa`, `@koa/router`, …), sorted. */
export function packagesIn(trace: string): string[] {
  const names = new Set<string>();
  for (const m of trace.matchAll(/\/node_modules\/((?:@[^/]+\/)?[^/]+)\//g)) names.add(m[1]!);
  return [...names].sort();
}
