import { chownSync, lstatSync, mkdirSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import { InvalidRequest } from '../../domain/errors.js';
import { mountTarget } from '../../domain/container-plan.js';
import { isStoragePath } from '../../domain/storage-folder.js';

/** The uid and gid the job runs as; rw folders are handed to them. */
export interface JobUser {
  uid: number;
  gid: number;
}

/**
 * Turns mount requests into Docker binds under the agent's storage root. The folder's place
 * comes from the manager (`<owner access key>/<name>`, resolved against the folder's owner),
 * never from the requested name alone. The path is checked first (two plain segments), then
 * the real path, so a symlink that leaves the root is refused too — all before Docker sees
 * anything. A folder is created only when nothing of that name exists: creating through a
 * dangling symlink would make a folder outside the root. A read-write folder's top directory is
 * given to the job's user, so a job that does not run as root can write it.
 */
export function storageBinds(
  root: string,
  mounts: { name: string; target: string; readOnly: boolean; path?: string }[],
  user: JobUser | null = null,
): string[] {
  if (mounts.length === 0) return [];
  mkdirSync(root, { recursive: true });
  const realRoot = realpathSync(root);
  return mounts.map((m) => {
    const target = mountTarget(m.name, m.target);
    if (m.path === undefined || !isStoragePath(m.path))
      throw new InvalidRequest(`Storage folder "${m.name}" has no place resolved by the manager.`);
    const [ns = ''] = m.path.split('/');
    const nsPath = join(realRoot, ns);
    if (!exists(nsPath)) mkdirSync(nsPath);
    inside(realRoot, nsPath, m.name);
    const hostPath = join(realRoot, m.path);
    if (!exists(hostPath)) mkdirSync(hostPath);
    const real = inside(realRoot, hostPath, m.name);
    if (!m.readOnly && user !== null) giveTo(real, user);
    return `${real}:${target}:${m.readOnly ? 'ro' : 'rw'}`;
  });
}

/** The real path of `path`, refused unless strictly inside `realRoot`. */
function inside(realRoot: string, path: string, name: string): string {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new InvalidRequest(`Storage folder "${name}" is a link to nothing.`);
  }
  if (real === realRoot || !real.startsWith(realRoot + sep)) {
    throw new InvalidRequest(`Storage folder "${name}" resolves outside the storage root.`);
  }
  return real;
}

/** Hands a folder's top directory to the job's user (an agent that is not root cannot, and says so). */
function giveTo(path: string, user: JobUser): void {
  const st = lstatSync(path);
  if (st.uid === user.uid && st.gid === user.gid) return;
  try {
    chownSync(path, user.uid, user.gid);
  } catch (err) {
    throw new InvalidRequest(
      `Storage folder at ${path} cannot be given to uid ${user.uid}: ${(err as Error).message}`,
    );
  }
}

/** Whether anything (a dangling symlink included) has this name. */
function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false; // nothing of that name
    throw err;
  }
}
