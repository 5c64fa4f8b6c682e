import { mountTarget } from './container-plan.js';
import { CREATE_CONFIG_ALIASES as C } from './session-request.js';
import { isUuid, obj, pick, stringList, type Body } from './body-fields.js';
import { InvalidRequest } from './errors.js';
import { requirePrintable } from './printable.js';
import { parseMountEntry, type FolderPermission } from './storage-folder.js';

/**
 * The mount fields of a create body's `config`, as Backend.AI names them: `mounts` (folder
 * names, `name:ro`/`name:rw`, or folder ids), `mount_map` (name or id → container path),
 * `mount_ids` (folder ids), `mount_id_map` (id → path) and `mount_options` (name or id →
 * `{permission|perm, mount_destination, type, subpath}`). Both spellings of each key.
 */
export interface MountFields {
  mounts: string[];
  mountMap: Record<string, string>;
  mountIds: string[];
  mountIdMap: Record<string, string>;
  mountOptions: Record<string, MountOption>;
}

/** One entry of `mount_options` after checking. `permission`: `wd` is mounted as `rw`. */
interface MountOption {
  permission: FolderPermission | null;
  target: string | null;
}

/** One folder to mount: by name or by id, with what was asked and the field that asked. */
interface MountAsk {
  ref: { kind: 'name'; name: string } | { kind: 'id'; id: string };
  mode: FolderPermission | null;
  target: string | undefined;
  /** The request field that names this folder (for 400s). */
  field: string;
}

/** Backend.AI's folder ids are UUIDs; a `mounts` entry shaped like one names a folder by id. */
const isFolderId = isUuid;

function pathMap(v: unknown, field: string): Record<string, string> {
  const o = obj(v, field) ?? {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    requirePrintable(k, `${field} key`);
    if (typeof val !== 'string' || val === '') throw new InvalidRequest(`${field}.${k} must be a path.`);
    out[k] = requirePrintable(val, `${field}.${k}`);
  }
  return out;
}

/** Backend.AI's MountPermission values: ro, rw, and wd (read-write-delete, mounted as rw). */
function permissionOf(v: unknown, field: string): FolderPermission | null {
  if (v === undefined) return null;
  if (v === 'ro' || v === 'rw') return v;
  if (v === 'wd') return 'rw';
  throw new InvalidRequest(`${field} must be "ro", "rw" or "wd".`);
}

function parseOption(v: unknown, field: string): MountOption {
  const o = obj(v, field) ?? {};
  for (const [k, val] of Object.entries(o)) {
    if (val === null) continue; // a null option asks for nothing
    if (!['permission', 'perm', 'mount_destination', 'mountDestination', 'type'].includes(k))
      throw new InvalidRequest(
        k === 'subpath'
          ? `${field}.subpath: bai mounts whole folders only.`
          : `${field}.${k} is not a mount option bai knows (permission, mount_destination, type).`,
      );
  }
  const type = pick(o, 'type');
  if (type !== undefined && type !== 'bind')
    throw new InvalidRequest(`${field}.type: bai mounts storage folders as "bind" only.`);
  const perm = permissionOf(pick(o, 'permission'), `${field}.permission`);
  const perm2 = permissionOf(pick(o, 'perm'), `${field}.perm`);
  if (perm !== null && perm2 !== null && perm !== perm2)
    throw new InvalidRequest(`${field}: permission and perm disagree.`);
  const dest = pick(o, 'mount_destination', 'mountDestination');
  if (dest !== undefined && (typeof dest !== 'string' || dest === ''))
    throw new InvalidRequest(`${field}.mount_destination must be a path.`);
  return {
    permission: perm ?? perm2,
    target: dest === undefined ? null : requirePrintable(dest as string, `${field}.mount_destination`),
  };
}

/** Reads the mount fields of `config` (both spellings), checking each shape. */
export function parseMountFields(config: Body): MountFields {
  const mounts = stringList(pick(config, ...C.mounts), 'config.mounts');
  const mountMap = pathMap(pick(config, ...C.mountMap), 'config.mount_map');
  for (const k of Object.keys(mountMap)) {
    // A mount_map key names the folder; "name:ro" in mounts is the same folder, not a second one.
    if (!mounts.some((m) => m === k || m.split(':')[0] === k)) mounts.push(k);
  }
  const mountIds = stringList(pick(config, ...C.mountIds), 'config.mount_ids');
  for (const id of mountIds)
    if (!isFolderId(id)) throw new InvalidRequest(`config.mount_ids: "${id}" is not a folder id (a UUID).`);
  const mountIdMap = pathMap(pick(config, ...C.mountIdMap), 'config.mount_id_map');
  for (const id of Object.keys(mountIdMap)) {
    if (!isFolderId(id))
      throw new InvalidRequest(`config.mount_id_map: "${id}" is not a folder id (a UUID).`);
    if (!mountIds.some((m) => m.toLowerCase() === id.toLowerCase())) mountIds.push(id);
  }
  const raw = obj(pick(config, ...C.mountOptions), 'config.mount_options') ?? {};
  const mountOptions: Record<string, MountOption> = {};
  for (const [k, v] of Object.entries(raw)) {
    requirePrintable(k, 'config.mount_options key');
    mountOptions[k] = parseOption(v, `config.mount_options.${k}`);
  }
  return { mounts, mountMap, mountIds, mountIdMap, mountOptions };
}

/**
 * The folders a request mounts, each once, with its mode and target merged from every field
 * that speaks of it. Refused (400, naming the field): an option for a folder not mounted, an
 * option whose permission or destination contradicts `name:mode` or `mount_map`, a folder
 * named twice.
 */
export function mountAsks(f: MountFields): MountAsk[] {
  const asks: MountAsk[] = [];
  const seen = new Set<string>();
  const used = new Set<string>();
  const add = (
    key: string,
    ref: MountAsk['ref'],
    mode: FolderPermission | null,
    mapped: string | undefined,
    field: string,
  ) => {
    const norm = ref.kind === 'id' ? `id:${ref.id.toLowerCase()}` : `name:${ref.name}`;
    if (seen.has(norm)) throw new InvalidRequest(`${field}: the folder "${key}" is mounted twice.`);
    seen.add(norm);
    const optKey = Object.keys(f.mountOptions).find((k) =>
      ref.kind === 'id' ? k.toLowerCase() === ref.id.toLowerCase() : k === ref.name,
    );
    const opt = optKey === undefined ? undefined : f.mountOptions[optKey];
    if (optKey !== undefined) used.add(optKey);
    const of = `config.mount_options.${optKey ?? key}`;
    if (opt?.permission && mode && opt.permission !== mode)
      throw new InvalidRequest(
        `${of}.permission "${opt.permission}" contradicts "${key}:${mode}" in ${field}.`,
      );
    if (opt?.target && mapped !== undefined && opt.target !== mapped)
      throw new InvalidRequest(`${of}.mount_destination contradicts the folder's mount map.`);
    const target = mapped ?? opt?.target ?? undefined;
    mountTarget(key, target); // host paths, "..", system folders: refused before any lookup
    asks.push({ ref, mode: mode ?? opt?.permission ?? null, target, field });
  };
  for (const entry of f.mounts) {
    const { name, mode } = parseMountEntry(entry);
    const mapped = f.mountMap[entry] ?? f.mountMap[name];
    if (isFolderId(name)) add(name, { kind: 'id', id: name }, mode, mapped, 'config.mounts');
    else add(name, { kind: 'name', name }, mode, mapped, 'config.mounts');
  }
  for (const id of f.mountIds) {
    const mapped = Object.entries(f.mountIdMap).find(([k]) => k.toLowerCase() === id.toLowerCase())?.[1];
    add(id, { kind: 'id', id }, null, mapped, 'config.mount_ids');
  }
  for (const k of Object.keys(f.mountOptions))
    if (!used.has(k))
      throw new InvalidRequest(
        `config.mount_options.${k}: the folder "${k}" is not mounted (list it in config.mounts or config.mount_ids).`,
      );
  return asks;
}
