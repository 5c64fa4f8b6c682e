import { randomBytes } from 'node:crypto';
import { ObjectNotFound } from '../domain/errors.js';
import { formatImageRef, parseImageRef } from '../domain/image-ref.js';
import type { Db } from './db.js';
import type { DomainRow } from './infra-store.js';
import type { AgentRow, KeypairRow, ResourcePolicyRow } from './rows.js';
import { preparedRaw } from './prepared.js';
import { TtlMemo } from './ttl-memo.js';

/**
 * An image reference resolved: bindings (ref, candidate, ref, candidate, domain), where the
 * candidate is the reference as Docker writes it. The alias's image if `ref` is an alias, else
 * the candidate, else (no alias, no candidate) `ref` as given; at most one row.
 */
const RESOLVE_IMAGE_SQL = `WITH a AS (SELECT image FROM image_aliases WHERE alias = ?),
     i AS (
       SELECT im.name, im.registry, im.labels FROM images im
        WHERE im.name = coalesce((SELECT image FROM a), ?)
       UNION ALL
       SELECT im.name, im.registry, im.labels FROM images im
        WHERE im.name = ? AND NOT EXISTS (SELECT 1 FROM a)
          AND NOT EXISTS (SELECT 1 FROM images x WHERE x.name = ?)
     )
SELECT i.name, i.registry, i.labels, r.username, r.password, d.is_active, d.allowed_registries
  FROM i LEFT JOIN container_registries r ON r.hostname = i.registry
  LEFT JOIN domains d ON d.name = ?
 LIMIT 1`;

/** What an admin route may change that the submit path remembers. */
export type CatalogKind = 'keypair' | 'resource policy' | 'scaling group' | 'domain';

export interface ResolvedImage {
  canonical: string;
  registry: string;
  labels: Record<string, string>;
  auth: { username: string; password: string; serveraddress: string } | null;
}

/**
 * Keypairs, policies, domains, images and agents: what the manager reads to decide.
 *
 * With `cacheMs` > 0, the reads every submit makes (keypair, policy, image resolution, scaling
 * group) are remembered that long (src/persistence/ttl-memo.ts): they are seven round trips of
 * a create otherwise. The admin routes make every manager forget what they change (`forget`,
 * told over Redis by the event hub), so a change holds from their answer on; should that
 * message be lost, within `cacheMs`, as keypairs already do in auth. Agents are never cached:
 * their liveness must be current.
 */
export class CatalogStore {
  private readonly memo: TtlMemo;

  constructor(
    private readonly db: Db,
    opts: { cacheMs?: number } = {},
  ) {
    this.memo = new TtlMemo(opts.cacheMs ?? 0);
  }

  /**
   * Forgets what this process remembers of a keypair, a resource policy, a scaling group or a
   * domain (and the image resolutions checked against that domain's registries), so an admin's
   * change holds from its answer on.
   */
  forget(kind: CatalogKind, name: string): void {
    if (kind === 'keypair') return this.memo.forget(`kp:${name}`);
    if (kind === 'resource policy') return this.memo.forget(`policy:${name}`);
    if (kind === 'scaling group') return this.memo.forget(`sg:${name}`);
    this.memo.forget(`domain:${name}`);
    this.memo.forgetWhere((key) => key.startsWith(`image:${name}\u0000`));
  }

  async keypair(accessKey: string): Promise<KeypairRow | undefined> {
    const row = await this.memo.get(`kp:${accessKey}`, () =>
      this.db<KeypairRow>('keypairs').where({ access_key: accessKey }).first(),
    );
    // A missing keypair is not remembered: one created next is seen at once.
    if (!row) this.memo.forget(`kp:${accessKey}`);
    return row;
  }

  async policy(name: string): Promise<ResourcePolicyRow> {
    const row = await this.memo.get(`policy:${name}`, () =>
      this.db<ResourcePolicyRow>('keypair_resource_policies').where({ name }).first(),
    );
    if (!row) {
      this.memo.forget(`policy:${name}`);
      throw new ObjectNotFound(`No resource policy "${name}".`, 'resource policy');
    }
    return row;
  }

  /**
   * Resolves an alias or canonical reference and checks the registry against the domain's
   * allowed list. Either failure is the same 404, as in Backend.AI.
   */
  async resolveImage(ref: string, domain: string): Promise<ResolvedImage> {
    return this.memo.get(`image:${domain}\u0000${ref}`, () => this.resolveImageNow(ref, domain));
  }

  /**
   * One named statement (it was four round trips, each built by knex and planned: the alias,
   * the image, the domain, the registry, on every placement): the alias's image, or the
   * reference as Docker writes it, or else (no alias) the reference as given; with its
   * registry's credentials and the domain's allowed registries.
   */
  private async resolveImageNow(ref: string, domain: string): Promise<ResolvedImage> {
    const candidate = formatImageRef(parseImageRef(ref));
    const { rows } = (await preparedRaw(this.db, 'bai_resolve_image', RESOLVE_IMAGE_SQL, [
      ref,
      candidate,
      ref,
      candidate,
      domain,
    ])) as {
      rows: {
        name: string;
        registry: string;
        labels: Record<string, string>;
        username: string | null;
        password: string | null;
        is_active: boolean | null;
        allowed_registries: string[] | null;
      }[];
    };
    const image = rows[0];
    const allowed = image?.is_active ? (image.allowed_registries ?? []) : [];
    if (!image || !allowed.includes(image.registry)) {
      throw new ObjectNotFound(`Unknown alias or disallowed registry: "${ref}".`, 'environment image');
    }
    const auth =
      image.username && image.password
        ? { username: image.username, password: image.password, serveraddress: image.registry }
        : null;
    return { canonical: image.name, registry: image.registry, labels: image.labels, auth };
  }

  /** Whether a scaling group exists (and is active), and who it is open to (both lists empty: everyone). */
  async scalingGroup(name: string): Promise<{ exists: boolean; domains: string[]; keypairs: string[] }> {
    return this.memo.get(`sg:${name}`, async () => {
      const [row, access] = await Promise.all([
        this.db('scaling_groups').where({ name, is_active: true }).first(),
        scalingGroupAccessOf(this.db, name),
      ]);
      return { exists: row !== undefined, ...access };
    });
  }

  /** A domain's row (active or not); a missing domain is not remembered, so a new one is seen at once. */
  async domain(name: string): Promise<DomainRow | undefined> {
    const row = await this.memo.get(`domain:${name}`, () =>
      this.db<DomainRow>('domains').where({ name }).first(),
    );
    if (!row) this.memo.forget(`domain:${name}`);
    return row;
  }

  /** The groups of `domain` a keypair is listed in (`group_members`). */
  async groupsOf(accessKey: string, domain: string): Promise<string[]> {
    return this.db('group_members')
      .where({ access_key: accessKey, domain_name: domain })
      .pluck('group_name') as Promise<string[]>;
  }

  async upsertAgent(
    row: Pick<AgentRow, 'id' | 'scaling_group' | 'available_slots' | 'version' | 'addr'> & {
      architecture?: string;
    },
  ): Promise<void> {
    // An agent too old to say keeps what the row has (x86_64 for a new row, as Backend.AI assumes).
    const arch = row.architecture === undefined ? {} : { architecture: row.architecture };
    await this.db('agents')
      .insert({
        ...row,
        ...arch,
        available_slots: JSON.stringify(row.available_slots),
        status: 'ALIVE',
        last_heartbeat: this.db.fn.now(),
      })
      .onConflict('id')
      .merge({
        scaling_group: row.scaling_group,
        available_slots: JSON.stringify(row.available_slots),
        version: row.version,
        ...arch,
        status: 'ALIVE',
        status_info: null,
        last_heartbeat: this.db.fn.now(),
      });
  }
}

/** The domains and keypairs a scaling group is open to, each sorted: one round trip (UNION ALL). */
export async function scalingGroupAccessOf(
  db: Db,
  name: string,
): Promise<{ domains: string[]; keypairs: string[] }> {
  const rows = (await db
    .select(db.raw(`'domain' AS kind`), 'domain_name AS who')
    .from('sgroups_for_domains')
    .where({ scaling_group: name })
    .unionAll(
      db
        .select(db.raw(`'keypair' AS kind`), 'access_key AS who')
        .from('sgroups_for_keypairs')
        .where({ scaling_group: name }),
    )
    .orderBy('who')) as { kind: 'domain' | 'keypair'; who: string }[];
  return {
    domains: rows.filter((r) => r.kind === 'domain').map((r) => r.who),
    keypairs: rows.filter((r) => r.kind === 'keypair').map((r) => r.who),
  };
}

export function newSecret(bytes = 30): string {
  return randomBytes(bytes).toString('base64url');
}

export function newAccessKey(): string {
  return `AKIA${randomBytes(8).toString('hex').toUpperCase()}`;
}
