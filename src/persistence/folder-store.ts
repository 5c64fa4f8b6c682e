import { randomUUID } from 'node:crypto';
import { Conflict, InvalidRequest, ObjectNotFound } from '../domain/errors.js';
import { folderStoragePath, type FolderAccess, type FolderPermission } from '../domain/storage-folder.js';
import type { Db } from './db.js';

export interface FolderRow {
  id: string;
  name: string;
  owner_access_key: string;
  domain_name: string;
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
  owner_access_key: string;
  domain_name: string;
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
    const [inserted] = (await this.db('storage_folders')
      .insert(row)
      .onConflict(['owner_access_key', 'name'])
      .ignore()
      .returning('*')) as FolderRow[];
    if (!inserted) throw new Conflict(`A storage folder "${name}" exists.`);
    return view(inserted, 'owner', []);
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
    return [
      ...owned.map((f) =>
        view(
          f,
          'owner',
          shares.filter((s) => s.folder_id === f.id),
        ),
      ),
      ...shared.map((f) => view(f, f.permission)),
    ];
  }

  /**
   * The folder `name` means to `accessKey`: its own, else one shared with it. Two shared
   * folders of that name from different owners are ambiguous (400); none is a 404.
   */
  async usable(accessKey: string, name: string): Promise<UsableFolder> {
    const own = (await this.db('storage_folders').where({ owner_access_key: accessKey, name }).first()) as
      FolderRow | undefined;
    if (own) return { folder: own, access: 'owner' };
    const shared = (await this.db('storage_folders as f')
      .join('storage_folder_shares as s', 's.folder_id', 'f.id')
      .where({ 's.access_key': accessKey, 'f.name': name })
      .select('f.*', 's.permission')) as (FolderRow & { permission: FolderPermission })[];
    if (shared.length === 0) throw notFound(name);
    if (shared.length > 1)
      throw new InvalidRequest(
        `Several keypairs shared a storage folder "${name}" with this keypair; ask an owner to rename it.`,
      );
    const { permission, ...folder } = shared[0]!;
    return { folder, access: permission };
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

  /** Invites `invitee` (or changes its permission); sharing with oneself is refused. */
  async share(f: FolderRow, invitee: string, permission: FolderPermission): Promise<void> {
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
