/**
 * Bundles the CLI's compiled modules (dist/src/cli/main.js and what it imports, clipanion and
 * typanion included) into one CommonJS file, dist/src/cli-bundle/main.cjs; each command's code
 * runs only when its words are on the command line, as the command table's imports did.
 * `npm run build` runs it after tsc; bin/bai.js requires it for every command but `bai manager`
 * and `bai agent` (docs/benchmarks.md, "Round seventeen").
 *
 * Why: Node's ESM loader resolves, reads and links each file on its own and reads clipanion's
 * CommonJS build through its lexer, so `bai session info` spent more CPU finding and loading
 * some sixty files than running. One CommonJS file is read and compiled once, and a CLI call
 * never starts the ESM loader at all.
 *
 * What it keeps out, imported from dist/ as they are:
 * - every npm package but clipanion and typanion (pg, knex, ioredis, … load only when used);
 * - `knexfile.js`, which finds the migrations by its own location;
 * - the `manager` and `agent` commands: the server processes run unbundled.
 * A bundled module that finds files by its own location (`import.meta.url`, here the bundle's)
 * would look in the wrong place: the build fails on any but those known to look at the right
 * depth. The packages and the kept-out modules are `require`d (Node ≥ 20.19 requires ES modules).
 */
import { build, type Plugin } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../../..');
const dist = resolve(root, 'dist');
/** At the depth of dist/src/cli/, so that paths relative to a module's file stay right. */
const outdir = resolve(dist, 'src/cli-bundle');
const outfile = resolve(outdir, 'main.cjs');
const inlined = new Set(['clipanion', 'typanion']);
const keptOut = new Set(
  ['knexfile.js', 'src/cli/commands/manager.js', 'src/cli/commands/agent.js'].map((f) => resolve(dist, f)),
);
/** Bundled modules that use `import.meta` and stay right from dist/src/cli-bundle/. */
const locationSafe = new Set(
  [
    'src/cli/local-stack.js', // bin/bai.js three folders up: the same from cli-bundle/
    'src/docker/dockerode-deferred.js', // createRequire: node_modules is found from anywhere in the checkout
  ].map((f) => resolve(dist, f)),
);

const pkg = JSON.parse(readFileSync(resolve(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
};
const external = Object.keys(pkg.dependencies)
  .filter((d) => !inlined.has(d))
  .flatMap((d) => [d, `${d}/*`]);

/** Imports of the kept-out modules stay imports, of the file in dist/, relative to the bundle. */
const keepOut: Plugin = {
  name: 'keep-out',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const file = resolve(args.resolveDir, args.path);
      if (!keptOut.has(file)) return undefined;
      return { path: `./${relative(outdir, file)}`, external: true };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: [resolve(dist, 'src/cli/main.js')],
  outfile,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external,
  plugins: [keepOut],
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
  // A CommonJS file has no import.meta: its URL is the bundle's own.
  define: { 'import.meta.url': 'bundleUrl' },
  banner: { js: "const bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
});

const misplaced = Object.keys(result.metafile.inputs)
  .map((f) => resolve(root, f))
  .filter((f) => !f.includes('/node_modules/') && !locationSafe.has(f))
  .filter((f) => readFileSync(f, 'utf8').includes('import.meta'));
if (misplaced.length > 0) {
  rmSync(outdir, { recursive: true, force: true });
  throw new Error(
    `bundle-cli: these modules find files by their own location and would look in the wrong place ` +
      `from ${relative(root, outdir)}/: ${misplaced.map((f) => relative(root, f)).join(', ')}. ` +
      `Keep them out of the bundle (keptOut) or check their paths and list them in locationSafe.`,
  );
}
