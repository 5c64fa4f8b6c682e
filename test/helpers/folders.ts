import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ApiClient } from '../../src/cli/client.js';
import { call } from './api.js';

/**
 * Creates the storage folder `name` for the keypair of `client` (or finds the one it has) and
 * returns its place on an agent whose storage root is `root`, made ready for the test to put
 * files in (with `mkdir: false`, only its owner's namespace is made).
 */
export async function makeFolder(
  client: ApiClient,
  root: string,
  name: string,
  opts: { mkdir?: boolean } = {},
): Promise<string> {
  let r = await call<{ storage_path: string }>(client, 'POST', '/folders', { name });
  if (r.status === 409) r = await call<{ storage_path: string }>(client, 'GET', `/folders/${name}`);
  if (r.status !== 201 && r.status !== 200)
    throw new Error(`folder ${name}: ${r.status} ${JSON.stringify(r.body)}`);
  const path = join(root, r.body.storage_path);
  mkdirSync(opts.mkdir === false ? dirname(path) : path, { recursive: true });
  return path;
}
