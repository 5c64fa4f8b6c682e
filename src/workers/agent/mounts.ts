import { lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import { InvalidRequest } from '../../domain/errors.js';
import { mountTarget } from '../../domain/container-plan.js';

/**
 * Turns mount requests into Docker binds under the agent's storage root. The name is checked
 * first (no host paths, no ".."), then the real path, so a symlink that leaves the root is
 * refused too — all before Docker sees anything. A folder is created only when nothing of that
 * name exists: creating through a dangling symlink would make a folder outside the root.
 */
export function storageBinds(
  root: string,
  mounts: { name: string; target: string; readOnly: boolean }[],
): string[] {
  if (mounts.length === 0) return [];
  mkdirSync(root, { recursive: true });
  const realRoot = realpathSync(root);
  return mounts.map((m) => {
    const target = mountTarget(m.name, m.target);
    const hostPath = join(realRoot, m.name);
    if (!exists(hostPath)) mkdirSync(hostPath);
    let real: string;
    try {
      real = realpathSync(hostPath);
    } catch {
      throw new InvalidRequest(`Storage folder "${m.name}" is a link to nothing.`);
    }
    if (real === realRoot || !real.startsWith(realRoot + sep)) {
      throw new InvalidRequest(`Storage folder "${m.name}" resolves outside the storage root.`);
    }
    return `${real}:${target}:${m.readOnly ? 'ro' : 'rw'}`;
  });
}

/** Whether anything (a dangling symlink included) has this name. */
function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
