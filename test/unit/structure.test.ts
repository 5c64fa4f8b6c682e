import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The walls of the codebase, checked on the sources: SQL is written in src/persistence only,
 * and no source file grows past 400 lines. One test per area, so a failure names its owner.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const MAX_LINES = 400;

/** A query-builder call: the handle called (`db(`, `trx<Row>(`, `knex(`), its raw SQL, fn, schema or migrations, a transaction. */
const QUERY_BUILDER = [
  /\b(?:db|trx|knex)\s*(?:<[^<>()]*>)?\s*\(/,
  /\b(?:db|trx|knex)\.(?:raw|fn|schema|migrate)\b/,
  /\.transaction\s*\(/,
  /from\s+['"]knex['"]|import\s*\(\s*['"]knex['"]\s*\)|require\s*\(\s*['"]knex['"]\s*\)/,
];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(path));
    else if (/\.(?:ts|mts|cts)$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** src/workers/<x> is an area of its own; elsewhere the first folder under src is. */
function areaOf(file: string): string {
  const parts = file.split('/');
  return parts[1] === 'workers' && parts.length > 3
    ? parts.slice(0, 3).join('/')
    : parts.slice(0, 2).join('/');
}

const files = sources(join(ROOT, 'src')).map((f) => relative(ROOT, f).split('\\').join('/'));
const areas = [...new Set(files.map(areaOf))].sort();

/** Blanks the inside of one-line string literals, keeping positions (so `'/*'` opens no comment). */
function maskStrings(line: string): string {
  return line.replace(/'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|`(?:\\.|[^`\\])*`/g, (m) =>
    m.length < 2 ? m : m[0] + ' '.repeat(m.length - 2) + m[0],
  );
}

/** The code of each line, comments cut away, with 1-based line numbers. */
function codeLines(text: string): { n: number; line: string }[] {
  const out: { n: number; line: string }[] = [];
  let inBlock = false;
  text.split('\n').forEach((raw, i) => {
    let code = '';
    let rest = raw;
    for (;;) {
      const masked = maskStrings(rest);
      if (inBlock) {
        const end = masked.indexOf('*/');
        if (end < 0) break;
        rest = rest.slice(end + 2);
        inBlock = false;
        continue;
      }
      const open = masked.indexOf('/*');
      const line = masked.indexOf('//');
      if (line >= 0 && (open < 0 || line < open)) {
        code += rest.slice(0, line);
        break;
      }
      if (open < 0) {
        code += rest;
        break;
      }
      code += rest.slice(0, open);
      rest = rest.slice(open + 2);
      inBlock = true;
    }
    if (code.trim() !== '') out.push({ n: i + 1, line: code });
  });
  return out;
}

test('the checks see the sources', (t) => {
  t.true(files.length > 50, `only ${files.length} source files under ${ROOT}src`);
  t.true(areas.includes('src/api') && areas.includes('src/persistence'));
});

for (const area of areas.filter((a) => a !== 'src/persistence')) {
  test(`no query builder outside src/persistence: ${area}`, (t) => {
    const found: string[] = [];
    for (const file of files.filter((f) => areaOf(f) === area)) {
      for (const { n, line } of codeLines(readFileSync(join(ROOT, file), 'utf8'))) {
        if (QUERY_BUILDER.some((re) => re.test(line))) found.push(`${file}:${n}: ${line.trim()}`);
      }
    }
    t.deepEqual(found, [], `SQL belongs in a store of src/persistence:\n${found.join('\n')}`);
  });
}

for (const area of areas) {
  test(`no source file over ${MAX_LINES} lines: ${area}`, (t) => {
    const found: string[] = [];
    for (const file of files.filter((f) => areaOf(f) === area)) {
      const lines = readFileSync(join(ROOT, file), 'utf8').replace(/\n$/, '').split('\n').length;
      if (lines > MAX_LINES) found.push(`${file}:${MAX_LINES + 1}: ${lines} lines; split it by concern`);
    }
    t.deepEqual(found, [], found.join('\n'));
  });
}

test('the query-builder check catches what it must and spares what it must', (t) => {
  const hits = (src: string) =>
    codeLines(src).filter(({ line }) => QUERY_BUILDER.some((re) => re.test(line)));
  for (const bad of [
    "await db('sessions').where({ id })",
    "this.db<KeypairRow>('keypairs').first()",
    "await this.deps.db('domains')",
    'trx("kernels").update(x)',
    'await db.raw("select 1")',
    'last_used_at: this.db.fn.now()',
    'await this.db.transaction(async (trx) => {})',
    "import type { Knex } from 'knex';",
    "const k = await import('knex');",
  ])
    t.is(hits(bad).length, 1, bad);
  for (const good of [
    'const db = openDb(url);',
    'new SessionQueries(db)',
    'const res = await this.raw(method, path);',
    "// db('sessions') in a comment",
    "/** uses db('sessions') in a doc comment */",
    "/**\n * uses db('sessions')\n */",
    "const glob = 'src/**/*.ts'; // db('x')",
    'await openDb(url)',
  ])
    t.is(hits(good).length, 0, good);
});
