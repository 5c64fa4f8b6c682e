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

/** `-v NAME[=PATH][:ro]` into mounts and mount_map. */
export function volumes(items: string[] | undefined): { mounts: string[]; mountMap: Record<string, string> } {
  const mounts: string[] = [];
  const mountMap: Record<string, string> = {};
  for (const item of items ?? []) {
    const [name, path] = item.split('=', 2) as [string, string | undefined];
    if (!name) throw new InvalidArgument(`-v takes NAME[=PATH] (got "${item}").`);
    mounts.push(name);
    if (path) mountMap[name] = path;
  }
  return { mounts, mountMap };
}
