import { createHash } from 'node:crypto';
import { InsufficientPrivilege, InvalidRequest } from './errors.js';

/**
 * Storage folders (Backend.AI's vfolders): a folder belongs to one keypair, or to a group of a
 * domain, and lives on every agent under its owner's namespace: `<storage root>/<owner access
 * key>/<name>`, or `<storage root>/g-<hash of domain and group>/<name>`. Other keypairs use a
 * keypair's folder only when the owner shared it with them, read-only or read-write; members
 * of a group use its folders read-write.
 */
export type FolderPermission = 'ro' | 'rw';

/** How a keypair may use a folder: as its owner, or through a share. */
export type FolderAccess = 'owner' | FolderPermission;

/** A storage folder name: one path segment, no dot-dot, nothing absolute. */
export const FOLDER_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function isFolderName(name: string): boolean {
  return FOLDER_NAME_RE.test(name) && !name.includes('..');
}

/** Throws a 400 unless `name` is a folder name. */
export function requireFolderName(name: string, field = 'name'): string {
  if (!isFolderName(name))
    throw new InvalidRequest(
      `${field} must be 1 to 128 letters, digits, "_", "." or "-", starting with a letter, digit or "_", without "..".`,
    );
  return name;
}

export function parsePermission(v: unknown, field = 'permission'): FolderPermission {
  if (v === 'ro' || v === 'rw') return v;
  throw new InvalidRequest(`${field} must be "ro" or "rw".`);
}

/** A mount entry of `config.mounts`: `name`, `name:ro` or `name:rw` (mode null: not asked). */
export function parseMountEntry(entry: string): { name: string; mode: FolderPermission | null } {
  const i = entry.lastIndexOf(':');
  if (i < 0) return { name: entry, mode: null };
  const mode = entry.slice(i + 1);
  if (mode !== 'ro' && mode !== 'rw')
    throw new InvalidRequest(`Mount "${entry}": the mode after ":" must be ro or rw.`);
  return { name: entry.slice(0, i), mode };
}

/**
 * Whether a mount is read-only: what was asked, within what the access allows. A folder shared
 * read-only is mounted read-only when no mode is asked, and an explicit `:rw` is refused
 * (403) rather than quietly downgraded, so a job that expects to write learns it at submit.
 */
export function mountReadOnly(name: string, access: FolderAccess, asked: FolderPermission | null): boolean {
  if (access === 'ro') {
    if (asked === 'rw')
      throw new InsufficientPrivilege(`The storage folder "${name}" is shared with this keypair read-only.`);
    return true;
  }
  return asked === 'ro';
}

/** Where a folder lives under an agent's storage root (relative): the owner's namespace, then the name. */
export function folderStoragePath(ownerAccessKey: string, name: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(ownerAccessKey))
    throw new InvalidRequest('The owner access key cannot name a storage namespace.');
  return `${ownerAccessKey}/${requireFolderName(name)}`;
}

/** A group name (groups are per domain; membership is kept by admins). */
export const GROUP_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export function requireGroupName(name: string, field = 'group'): string {
  if (!GROUP_NAME_RE.test(name) || name.includes('..'))
    throw new InvalidRequest(`${field} must be 1 to 64 letters, digits, "_", "." or "-".`);
  return name;
}

/** Where a group's folder lives under an agent's storage root (relative). */
export function groupFolderStoragePath(domain: string, group: string, name: string): string {
  const ns = createHash('sha256').update(`${domain}\u0000${group}`).digest('hex').slice(0, 24);
  return `g-${ns}/${requireFolderName(name)}`;
}

/** Checks a relative storage path from a job before the agent joins it to its root. */
export function isStoragePath(path: string): boolean {
  const parts = path.split('/');
  return parts.length === 2 && /^[A-Za-z0-9_-]{1,64}$/.test(parts[0]!) && isFolderName(parts[1]!);
}
