import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const GUARD = pathToFileURL(resolve(fileURLToPath(import.meta.url), '../orphan-guard.js')).href;

/**
 * Node's arguments for a child that must end with the test worker that spawned it: spawn it with
 * these before its script and with `stdio[0]` `'pipe'` (orphan-guard.ts).
 */
export function guardedNodeArgs(): string[] {
  return ['--import', GUARD];
}
