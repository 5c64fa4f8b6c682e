import { checkStorageAllowed } from '../domain/admission.js';
import { mountTarget } from '../domain/container-plan.js';
import { InvalidRequest } from '../domain/errors.js';
import { mountAsks } from '../domain/mount-request.js';
import type { CreateSessionRequest } from '../domain/session-request.js';
import { mountReadOnly } from '../domain/storage-folder.js';
import type { CatalogStore } from '../persistence/catalog-store.js';
import type { FolderStore } from '../persistence/folder-store.js';
import type { MountSpec } from '../persistence/rows.js';

/**
 * Mounts name storage folders (by name or, as Backend.AI's `mount_ids`, by id): the domain's
 * allow-list (`*`: any name) first, then each must be a folder the session's keypair owns or
 * was invited to — anything else is the same 404 as an unknown folder. Read-only comes from
 * `name:ro` or `mount_options` within what the access allows. The agent's host path comes
 * from here (`<owner>/<name>`), never from the requested name alone.
 */
export async function resolveMounts(
  deps: { catalog: CatalogStore; folders: FolderStore },
  req: CreateSessionRequest,
  accessKey: string,
  domain: string,
): Promise<MountSpec[]> {
  const asks = mountAsks(req);
  if (asks.length === 0) return [];
  const allowed = (await deps.catalog.domain(domain))?.allowed_storage ?? [];
  checkStorageAllowed(
    asks.flatMap((a) => (a.ref.kind === 'name' ? [a.ref.name] : [])),
    allowed,
    domain,
  );
  const out: MountSpec[] = [];
  const folderIds = new Set<string>();
  const targets = new Set<string>();
  for (const a of asks) {
    const { folder, access } =
      a.ref.kind === 'name'
        ? await deps.folders.usable(accessKey, a.ref.name)
        : await deps.folders.usableById(accessKey, a.ref.id);
    if (a.ref.kind === 'id') checkStorageAllowed([folder.name], allowed, domain);
    if (folderIds.has(folder.id))
      throw new InvalidRequest(`${a.field}: the folder "${folder.name}" is mounted twice.`);
    folderIds.add(folder.id);
    const target = mountTarget(folder.name, a.target);
    if (targets.has(target)) throw new InvalidRequest(`${a.field}: two folders are mounted at ${target}.`);
    targets.add(target);
    out.push({
      name: folder.name,
      target,
      readOnly: mountReadOnly(folder.name, access, a.mode),
      path: folder.storage_path,
    });
  }
  return out;
}
