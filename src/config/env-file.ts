import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * <state folder>/env (.bai/env by default): the `export K=V` lines `bai up` writes (endpoint,
 * admin keys) and the CLI reads as one layer of its settings. Its reader and writer, together,
 * so the two cannot disagree on quoting.
 */

/** Where the env file of a state folder is. */
export function envFileOf(stateDir: string): string {
  return join(stateDir, 'env');
}

/** Reads `export K=V` lines; a missing file is an empty one. */
export function readEnvFile(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if (v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1).replaceAll(`'\\''`, "'");
    else if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

/** Writes `export K=V` lines, readable by a shell (`. .bai/env`) and by readEnvFile; owner-only. */
export function writeEnvFile(file: string, vars: Record<string, string>): void {
  const body = Object.entries(vars)
    .map(([k, v]) => `export ${k}=${shellWord(v)}`)
    .join('\n');
  writeFileSync(file, `${body}\n`, { mode: 0o600 });
}

function shellWord(v: string): string {
  return /^[A-Za-z0-9_./:@%+=-]+$/.test(v) ? v : `'${v.replaceAll("'", `'\\''`)}'`;
}
