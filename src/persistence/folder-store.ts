import { randomUUID } from 'node:crypto';
import { Conflict, InvalidRequest, ObjectNotFound } from '../domain/errors.js';
import {
  folderStoragePath,
  groupFolderStoragePath,
  type FolderAccess,
  type FolderPermission,
} from '../domain/storage-folder.js';
import type { Db } from './db.js';

export interface FolderRow {
  id: string;
  name: string;
  /** Null for a group's folder. */
  owner_access_key: string | null;
  domain_name: string;
  /** The owning group (of domain_name); null for a keypair's folder. */
  group_name: string | null;
  storage_path: string;
  created_at: Date;
}

export interface ShareRow {
  folder_id: string;
  access_key: string;
  permission: FolderPermission;
  created_at: Date;
}

/** A folder as one keypair sees it: its own (with its shares) or shared with it. */
export interface FolderView {
  id: string;
  name: string;
  owner_access_key: string | null;
  domain_name: string;
  group_name: string | null;
  /** `owner`, or the permission of the share the viewer holds. */
  access: FolderAccess;
  /** Relative to each agent's storage root. */
  storage_path: string;
  created_at: string;
  /** Only for the owner: who it is shared with. */
  shares?: { access_key: string; permission: FolderPermission; created_at: string }[];
}

/** A folder a keypair may use, with how. */
export interface UsableFolder {
  folder: FolderRow;
  access: FolderAccess;
}

function view(f: FolderRow, access: FolderAccess, shares?: ShareRow[]): FolderView {
  return {
    id: f.id,
    name: f.name,
    owner_access_key: f.owner_access_key,
    domain_name: f.domain_name,
    group_name: f.group_name,
    access,
    storage_path: f.storage_path,
    created_at: f.created_at.toISOString(),
    ...(shares
      ? {
          shares: shares.map((s) => ({
            access_key: s.access_key,
            permission: s.permission,
            created_at: s.created_at.toISOString(),
          })),
        }
      : {}),
  };
}

/**
 * Storage folders and their shares. Every read takes the keypair it acts for: a folder that
 * keypair neither owns nor was invited to is not found, exactly like one that does not exist.
 */
export class FolderStore {
  constructor(private readonly db: Db) {}

  async create(owner: { access_key: string; domain_name: string }, name: string): Promise<FolderView> {
    const row = {
      id: randomUUID(),
      name,
      owner_access_key: owner.access_key,
      domain_name: owner.domain_name,
      storage_path: folderStoragePath(owner.access_key, name),
    };
    return view(await this.insert(row), 'owner', []);
  }

  /** A folder of a group of `domain` (its members use it read-write). */
  async createForGroup(domain: string, group: string, name: string): Promise<FolderView> {
    const row = {
      id: randomUUID(),
      name,
      domain_name: domain,
      group_name: group,
      storage_path: groupFolderStoragePath(domain, group, name),
    };
    return view(await this.insert(row), 'rw');
  }

  private async insert(row: Record<string, string>): Promise<FolderRow> {
    try {
      const [inserted] = (await this.db('storage_folders').insert(row).returning('*')) as FolderRow[];
      return inserted!;
    } catch (err) {
      if ((err as { code?: string }).code === '23505')
        throw new Conflict(`A storage folder "${row.name}" exists.`);
      throw err;
    }
  }

  /** Folders of the groups `accessKey` is a member of (optionally of one name). */
  private async groupFolders(accessKey: string, name?: string): Promise<FolderRow[]> {
    let q = this.db('storage_folders as f')
      .join('group_members as m', function () {
        this.on('m.domain_name', '=', 'f.domain_name').andOn('m.group_name', '=', 'f.group_name');
      })
      .where('m.access_key', accessKey)
      .orderBy('f.name')
      .orderBy('f.group_name')
      .select('f.*');
    if (name !== undefined) q = q.where('f.name', name);
    return (await q) as FolderRow[];
  }

  /** The folders a keypair owns and those shared with it; owned first, then by name. */
  async list(accessKey: string): Promise<FolderView[]> {
    const owned = (await this.db('storage_folders')
      .where({ owner_access_key: accessKey })
      .orderBy('name')) as FolderRow[];
    const shares = owned.length
      ? ((await this.db('storage_folder_shares')
          .whereIn(
            'folder_id',
            owned.map((f) => f.id),
          )
          .orderBy('access_key')) as ShareRow[])
      : [];
    const shared = (await this.db('storage_folders as f')
      .join('storage_folder_shares as s', 's.folder_id', 'f.id')
      .where('s.access_key', accessKey)
      .orderBy('f.name')
      .orderBy('f.owner_access_key')
      .select('f.*', 's.permission')) as (FolderRow & { permission: FolderPermission })[];
    const groups = await this.groupFolders(accessKey);
    return [
      ...owned.map((f) =>
        view(
          f,
          'owner',
          shares.filter((s) => s.folder_id === f.id),
        ),
      ),
      ...shared.map((f) => view(f, f.permission)),
      ...groups.map((f) => view(f, 'rw')),
    ];
  }

  /**
   * The folder `name` means to `accessKey`: its own, else one shared with it or one of a group
   * it belongs to. Two such folders of that name are ambiguous (400); none is a 404.
   */
  async usable(accessKey: string, name: string): Promise<UsableFolder> {
    const own = (await this.db('storage_folders').where({ owner_access_key: accessKey, name }).first()) as
      FolderRow | undefined;
    if (own) return { folder: own, access: 'owner' };
    const shared = (await this.db('storage_folders as f')
      .join('storage_folder_shares as s', 's.folder_id', 'f.id')
      .where({ 's.access_key': accessKey, 'f.name': name })
      .select('f.*', 's.permission')) as (FolderRow & { permission: FolderPermission })[];
    const candidates: UsableFolder[] = [
      ...shared.map(({ permission, ...folder }) => ({ folder, access: permission })),
      ...(await this.groupFolders(accessKey, name)).map((folder) => ({ folder, access: 'rw' as const })),
    ];
    if (candidates.length === 0) throw notFound(name);
    if (candidates.length > 1)
      throw new InvalidRequest(
        `Several storage folders named "${name}" are shared with this keypair or its groups; ask an owner to rename one.`,
      );
    return candidates[0]!;
  }

  /**
   * The folder of id `id` (Backend.AI's `mount_ids`) as `accessKey` may use it: owned, shared
   * with it, or of a group it belongs to; anything else is the 404 of an unknown folder.
   */
  async usableById(accessKey: string, id: string): Promise<UsableFolder> {
    const f = (await this.db('storage_folders').where({ id: id.toLowerCase() }).first()) as
      FolderRow | undefined;
    if (!f) throw notFound(id);
    if (f.owner_access_key === accessKey) return { folder: f, access: 'owner' };
    const share = (await this.db('storage_folder_shares')
      .where({ folder_id: f.id, access_key: accessKey })
      .first()) as ShareRow | undefined;
    if (share) return { folder: f, access: share.permission };
    if (f.group_name !== null) {
      const member = await this.db('group_members')
        .where({ domain_name: f.domain_name, group_name: f.group_name, access_key: accessKey })
        .first();
      if (member) return { folder: f, access: 'rw' };
    }
    throw notFound(id);
  }

  async view(accessKey: string, name: string): Promise<FolderView> {
    const u = await this.usable(accessKey, name);
    if (u.access !== 'owner') return view(u.folder, u.access);
    const shares = (await this.db('storage_folder_shares')
      .where({ folder_id: u.folder.id })
      .orderBy('access_key')) as ShareRow[];
    return view(u.folder, 'owner', shares);
  }

  /** A folder the keypair owns (shared ones cannot be deleted or re-shared by invitees). */
  async owned(accessKey: string, name: string): Promise<FolderRow> {
    const f = (await this.db('storage_folders').where({ owner_access_key: accessKey, name }).first()) as
      FolderRow | undefined;
    if (!f) throw notFound(name);
    return f;
  }

  async delete(accessKey: string, name: string): Promise<FolderRow> {
    const f = await this.owned(accessKey, name);
    await this.db('storage_folders').where({ id: f.id }).delete();
    return f;
  }

  /** Deletes a group's folder (admins). */
  async deleteGroupFolder(domain: string, group: string, name: string): Promise<FolderRow> {
    const [f] = (await this.db('storage_folders')
      .where({ domain_name: domain, group_name: group, name })
      .delete()
      .returning('*')) as FolderRow[];
    if (!f) throw notFound(name);
    return f;
  }

  async members(domain: string, group: string): Promise<{ access_key: string; created_at: string }[]> {
    const rows = (await this.db('group_members')
      .where({ domain_name: domain, group_name: group })
      .orderBy('access_key')) as { access_key: string; created_at: Date }[];
    return rows.map((r) => ({ access_key: r.access_key, created_at: r.created_at.toISOString() }));
  }

  async addMember(domain: string, group: string, accessKey: string): Promise<void> {
    await this.db('group_members')
      .insert({ domain_name: domain, group_name: group, access_key: accessKey })
      .onConflict(['domain_name', 'group_name', 'access_key'])
      .ignore();
  }

  async removeMember(domain: string, group: string, accessKey: string): Promise<void> {
    const n = await this.db('group_members')
      .where({ domain_name: domain, group_name: group, access_key: accessKey })
      .delete();
    if (n === 0) throw new ObjectNotFound(`"${accessKey}" is not a member of group "${group}".`, 'member');
  }

  /** Invites `invitee` (or changes its permission); sharing with oneself is refused. */
  async share(f: FolderRow, invitee: string, permission: FolderPermission): Promise<void> {
    if (f.owner_access_key === null)
      throw new InvalidRequest("A group's folder is shared through the group's members.");
    if (invitee === f.owner_access_key)
      throw new InvalidRequest('A folder is not shared with its own owner.');
    await this.db('storage_folder_shares')
      .insert({ folder_id: f.id, access_key: invitee, permission })
      .onConflict(['folder_id', 'access_key'])
      .merge(['permission']);
  }

  async unshare(f: FolderRow, invitee: string): Promise<void> {
    const n = await this.db('storage_folder_shares').where({ folder_id: f.id, access_key: invitee }).delete();
    if (n === 0) throw new ObjectNotFound(`The folder "${f.name}" is not shared with "${invitee}".`, 'share');
  }
}

function notFound(name: string): ObjectNotFound {
  return new ObjectNotFound(`No storage folder "${name}".`, 'storage folder');
}
