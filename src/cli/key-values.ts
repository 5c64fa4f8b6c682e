import { InvalidArgument } from './base-command.js';

/** Parses repeated `K=V` options (`-e`, `-r`, `--resource-opts`). */
export function keyValues(items: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new InvalidArgument(`${flag} takes KEY=VALUE (got "${item}").`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

/**
 * `-r KEY=VALUE` as Backend.AI's CLI sends it: a `mem` amount without a unit is MiB, so
 * `mem=256` goes out as `256m`; `mem=4g`, `mem=512m` and every other slot go as typed.
 */
export function resourceArgs(items: string[] | undefined): Record<string, string> {
  const out = keyValues(items, '-r');
  const mem = out.mem?.trim();
  if (mem !== undefined && /^\d+(\.\d+)?$/.test(mem)) out.mem = `${mem}m`;
  return out;
}

/** What `-m/--mount` (and `-v/--volume`) put in the create body's `config`. */
export interface MountArgs {
  mounts: string[];
  mountMap: Record<string, string>;
  mountOptions: Record<string, { permission: 'ro' | 'rw' }>;
}

const MOUNT_KEYS = new Set(['type', 'source', 'target', 'perm', 'permission']);

/**
 * `-m NAME[=PATH][:ro|:rw]` (also `NAME:PATH`, as Backend.AI's CLI takes it) and Backend.AI's
 * long form `source=NAME,target=PATH,perm=ro`, into `mounts`, `mount_map` and `mount_options`
 * (`{NAME: {permission: "ro"}}`). A trailing `:ro`/`:rw` is the permission, never a path.
 */
export function mountArgs(items: string[] | undefined): MountArgs {
  const out: MountArgs = { mounts: [], mountMap: {}, mountOptions: {} };
  for (const item of items ?? []) {
    const m = parseMount(item);
    if (out.mounts.includes(m.name)) throw new InvalidArgument(`-m names "${m.name}" twice.`);
    out.mounts.push(m.name);
    if (m.path) out.mountMap[m.name] = m.path;
    if (m.permission) out.mountOptions[m.name] = { permission: m.permission };
  }
  return out;
}

function parseMount(item: string): { name: string; path?: string; permission?: 'ro' | 'rw' } {
  const bad = () =>
    new InvalidArgument(`-m takes NAME[=PATH][:ro] or source=NAME,target=PATH,perm=ro (got "${item}").`);
  const firstKey = /^([a-z]+)=/.exec(item)?.[1];
  if (firstKey !== undefined && MOUNT_KEYS.has(firstKey)) {
    const kv: Record<string, string> = {};
    for (const pair of item.split(',')) {
      const i = pair.indexOf('=');
      const key = i < 0 ? pair.trim() : pair.slice(0, i).trim();
      if (!MOUNT_KEYS.has(key)) throw bad();
      kv[key] = i < 0 ? '' : pair.slice(i + 1).trim();
    }
    const perm = kv.permission ?? kv.perm;
    if (
      !kv.source ||
      (kv.type !== undefined && kv.type !== 'bind') ||
      (perm && perm !== 'ro' && perm !== 'rw')
    )
      throw bad();
    return {
      name: kv.source,
      path: kv.target || undefined,
      permission: (perm || undefined) as 'ro' | 'rw' | undefined,
    };
  }
  let rest = item;
  let permission: 'ro' | 'rw' | undefined;
  const suffix = /:(ro|rw)$/.exec(rest);
  if (suffix) {
    permission = suffix[1] as 'ro' | 'rw';
    rest = rest.slice(0, -3);
  }
  const sep = rest.search(/[=:]/);
  const name = sep < 0 ? rest : rest.slice(0, sep);
  const path = sep < 0 ? undefined : rest.slice(sep + 1);
  if (!name || path === '') throw bad();
  return { name, path, permission };
}
