import { Conflict, InvalidRequest, ObjectNotFound } from '../domain/errors.js';
import { formatImageRef, parseImageRef } from '../domain/image-ref.js';
import { ACTIVE_STATUSES } from '../domain/status.js';
import { addSlots, subtractSlots, type Slots } from '../domain/resources.js';
import { scalingGroupAccessOf } from './catalog-store.js';
import type { Db } from './db.js';
import type { AgentRow, ImageRow } from './rows.js';

export interface DomainRow {
  name: string;
  allowed_registries: string[];
  allowed_storage: string[];
  is_active: boolean;
  created_at: Date;
}

export interface ScalingGroupRow {
  name: string;
  description: string;
  is_active: boolean;
  pending_timeout_sec: number;
  created_at: Date;
}

interface RegistryRow {
  hostname: string;
  url: string;
  username: string | null;
  password: string | null;
  created_at: Date;
}

/** A registry as any API shows it: whether it has credentials, never the credentials. */
export interface RegistryView {
  hostname: string;
  url: string;
  has_credentials: boolean;
  created_at: string;
}

export interface AgentView {
  id: string;
  scaling_group: string;
  status: AgentRow['status'];
  status_info: string | null;
  schedulable: boolean;
  architecture: string;
  available_slots: Slots;
  occupied_slots: Slots;
  free_slots: Slots;
  running_kernels: number;
  version: string;
  addr: string;
  first_contact: string;
  last_heartbeat: string;
}

function iso(d: Date): string {
  return d.toISOString();
}

/**
 * What the infrastructure is made of: domains (allowed registries and storage), scaling groups,
 * container registries, images with their aliases, and agents with what they hold.
 */
export class InfraStore {
  constructor(private readonly db: Db) {}

  // Domains

  async domains(only: string | null): Promise<DomainRow[]> {
    let q = this.db<DomainRow>('domains').orderBy('name');
    if (only !== null) q = q.where({ name: only });
    return q;
  }

  async upsertDomain(
    name: string,
    f: Partial<Pick<DomainRow, 'allowed_registries' | 'allowed_storage' | 'is_active'>>,
    mustExist: boolean,
  ): Promise<DomainRow> {
    const cols: Record<string, unknown> = { ...f };
    if (f.allowed_registries) cols.allowed_registries = JSON.stringify(f.allowed_registries);
    if (f.allowed_storage) cols.allowed_storage = JSON.stringify(f.allowed_storage);
    if (mustExist) {
      const [row] = (await this.db('domains').where({ name }).update(cols).returning('*')) as DomainRow[];
      if (!row) throw new ObjectNotFound(`No domain "${name}".`, 'domain');
      return row;
    }
    const [row] = (await this.db('domains')
      .insert({ name, ...cols })
      .onConflict('name')
      .ignore()
      .returning('*')) as DomainRow[];
    if (!row) throw new Conflict(`The domain "${name}" exists.`);
    return row;
  }

  // Scaling groups

  async scalingGroups(): Promise<ScalingGroupRow[]> {
    return this.db<ScalingGroupRow>('scaling_groups').orderBy('name');
  }

  async upsertScalingGroup(
    name: string,
    f: Partial<Pick<ScalingGroupRow, 'description' | 'is_active' | 'pending_timeout_sec'>>,
    mustExist: boolean,
  ): Promise<ScalingGroupRow> {
    if (mustExist) {
      const [row] = (await this.db('scaling_groups')
        .where({ name })
        .update(f)
        .returning('*')) as ScalingGroupRow[];
      if (!row) throw new ObjectNotFound(`No scaling group "${name}".`, 'scaling group');
      return row;
    }
    const [row] = (await this.db('scaling_groups')
      .insert({ name, ...f })
      .onConflict('name')
      .ignore()
      .returning('*')) as ScalingGroupRow[];
    if (!row) throw new Conflict(`The scaling group "${name}" exists.`);
    return row;
  }

  async deleteScalingGroup(name: string): Promise<void> {
    if (await this.db('agents').where({ scaling_group: name }).first())
      throw new Conflict(`Agents belong to the scaling group "${name}"; deactivate it instead.`);
    if (await this.db('sessions').where({ scaling_group: name }).first())
      throw new Conflict(`Sessions ran in the scaling group "${name}"; deactivate it instead.`);
    const n = await this.db('scaling_groups').where({ name }).delete();
    if (n === 0) throw new ObjectNotFound(`No scaling group "${name}".`, 'scaling group');
  }

  /** Who may use a scaling group (both lists empty: everyone). */
  async scalingGroupAccess(
    name: string,
  ): Promise<{ scaling_group: string; domains: string[]; keypairs: string[] }> {
    if (!(await this.db('scaling_groups').where({ name }).first()))
      throw new ObjectNotFound(`No scaling group "${name}".`, 'scaling group');
    return { scaling_group: name, ...(await scalingGroupAccessOf(this.db, name)) };
  }

  /** Opens (or closes) a scaling group to a domain or a keypair; the first entry restricts it. */
  async setScalingGroupAccess(
    name: string,
    kind: 'domain' | 'keypair',
    who: string,
    allow: boolean,
  ): Promise<void> {
    const table = kind === 'domain' ? 'sgroups_for_domains' : 'sgroups_for_keypairs';
    const col = kind === 'domain' ? 'domain_name' : 'access_key';
    if (!allow) {
      const n = await this.db(table)
        .where({ scaling_group: name, [col]: who })
        .delete();
      if (n === 0) throw new ObjectNotFound(`The scaling group "${name}" does not list "${who}".`, kind);
      return;
    }
    if (!(await this.db('scaling_groups').where({ name }).first()))
      throw new ObjectNotFound(`No scaling group "${name}".`, 'scaling group');
    const owner =
      kind === 'domain'
        ? this.db('domains').where({ name: who })
        : this.db('keypairs').where({ access_key: who });
    if (!(await owner.first())) throw new ObjectNotFound(`No ${kind} "${who}".`, kind);
    await this.db(table)
      .insert({ scaling_group: name, [col]: who })
      .onConflict(['scaling_group', col])
      .ignore();
  }

  // Container registries: credentials go in, never out.

  async registries(): Promise<RegistryView[]> {
    const rows = (await this.db('container_registries').orderBy('hostname')) as RegistryRow[];
    return rows.map(registryView);
  }

  async upsertRegistry(
    hostname: string,
    f: { url?: string; username?: string | null; password?: string | null },
  ): Promise<RegistryView> {
    const url = f.url ?? `https://${hostname}`;
    const cols: Record<string, unknown> = { url };
    if (f.username !== undefined) cols.username = f.username;
    if (f.password !== undefined) cols.password = f.password;
    const [row] = (await this.db('container_registries')
      .insert({ hostname, ...cols })
      .onConflict('hostname')
      .merge(Object.keys(cols))
      .returning('*')) as RegistryRow[];
    return registryView(row!);
  }

  async deleteRegistry(hostname: string): Promise<void> {
    const n = await this.db('container_registries').where({ hostname }).delete();
    if (n === 0) throw new ObjectNotFound(`No registry "${hostname}".`, 'registry');
  }

  // Images and aliases

  async images(): Promise<(ImageRow & { aliases: string[] })[]> {
    const [images, aliases] = await Promise.all([
      this.db<ImageRow>('images').orderBy('name'),
      this.db('image_aliases').orderBy('alias') as Promise<{ alias: string; image: string }[]>,
    ]);
    return images.map((i) => ({
      name: i.name,
      registry: i.registry,
      labels: i.labels,
      aliases: aliases.filter((a) => a.image === i.name).map((a) => a.alias),
    }));
  }

  /** Registers (or relabels) an image by its reference; the canonical form is what is stored. */
  async upsertImage(ref: string, labels: Record<string, string>): Promise<ImageRow> {
    const parsed = parseImageRef(ref);
    const name = formatImageRef(parsed);
    const [row] = (await this.db('images')
      .insert({ name, registry: parsed.registry, labels: JSON.stringify(labels) })
      .onConflict('name')
      .merge(['labels'])
      .returning(['name', 'registry', 'labels'])) as ImageRow[];
    return row!;
  }

  async deleteImage(ref: string): Promise<void> {
    const n = await this.db('images')
      .whereIn('name', [ref, formatImageRef(parseImageRef(ref))])
      .delete();
    if (n === 0) throw new ObjectNotFound(`No image "${ref}".`, 'environment image');
  }

  async aliases(): Promise<{ alias: string; image: string }[]> {
    return this.db('image_aliases').orderBy('alias');
  }

  async setAlias(alias: string, ref: string): Promise<{ alias: string; image: string }> {
    const image = (await this.db('images')
      .whereIn('name', [ref, formatImageRef(parseImageRef(ref))])
      .first()) as ImageRow | undefined;
    if (!image) throw new InvalidRequest(`No image "${ref}" is registered; add it first.`);
    await this.db('image_aliases').insert({ alias, image: image.name }).onConflict('alias').merge();
    return { alias, image: image.name };
  }

  async deleteAlias(alias: string): Promise<void> {
    const n = await this.db('image_aliases').where({ alias }).delete();
    if (n === 0) throw new ObjectNotFound(`No alias "${alias}".`, 'image alias');
  }

  // Agents

  async agents(filter: { scalingGroup?: string; status?: string } = {}): Promise<AgentView[]> {
    let q = this.db<AgentRow>('agents').orderBy('id');
    if (filter.scalingGroup) q = q.where({ scaling_group: filter.scalingGroup });
    if (filter.status) q = q.where('status', filter.status);
    const agents = (await q) as AgentRow[];
    if (agents.length === 0) return [];
    const kernels = (await this.db('kernels')
      .whereIn(
        'agent_id',
        agents.map((a) => a.id),
      )
      .whereIn('status', [...ACTIVE_STATUSES])
      .select('agent_id', 'occupied_slots')) as { agent_id: string; occupied_slots: Slots }[];
    return agents.map((a) => {
      const mine = kernels.filter((k) => k.agent_id === a.id);
      const occupied = mine.reduce<Slots>((acc, k) => addSlots(acc, k.occupied_slots), {});
      return {
        id: a.id,
        scaling_group: a.scaling_group,
        status: a.status,
        status_info: a.status_info,
        schedulable: a.schedulable,
        architecture: a.architecture,
        available_slots: a.available_slots,
        occupied_slots: occupied,
        free_slots: subtractSlots(a.available_slots, occupied),
        running_kernels: mine.length,
        version: a.version,
        addr: a.addr,
        first_contact: iso(a.first_contact),
        last_heartbeat: iso(a.last_heartbeat),
      };
    });
  }

  /** Schedulable off is a drain: running sessions finish, nothing new is placed there. */
  async setSchedulable(id: string, schedulable: boolean): Promise<AgentView> {
    const n = await this.db('agents').where({ id }).update({ schedulable });
    if (n === 0) throw new ObjectNotFound(`No agent "${id}".`, 'agent');
    return (await this.agents()).find((a) => a.id === id)!;
  }
}

function registryView(r: RegistryRow): RegistryView {
  return {
    hostname: r.hostname,
    url: r.url,
    has_credentials: Boolean(r.username && r.password),
    created_at: iso(r.created_at),
  };
}

export function domainView(d: DomainRow): Record<string, unknown> {
  return {
    name: d.name,
    allowed_registries: d.allowed_registries,
    allowed_storage: d.allowed_storage,
    is_active: d.is_active,
    created_at: iso(d.created_at),
  };
}

export function scalingGroupView(s: ScalingGroupRow): Record<string, unknown> {
  return {
    name: s.name,
    description: s.description,
    is_active: s.is_active,
    pending_timeout_sec: s.pending_timeout_sec,
    created_at: iso(s.created_at),
  };
}
