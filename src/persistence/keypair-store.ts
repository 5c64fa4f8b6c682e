import { randomBytes, randomUUID } from 'node:crypto';
import { Conflict, InvalidRequest, ObjectNotFound } from '../domain/errors.js';
import { newAccessKey, newSecret } from './catalog-store.js';
import type { Db } from './db.js';
import type { KeypairRow, ResourcePolicyRow } from './rows.js';

/** A bearer token's keypair, with the token's id and when it was last used. */
export type TokenKeypair = KeypairRow & { token_id: string; token_last_used_at: Date | null };

/** A keypair as the admin API shows it: never the secret key (only once, at creation). */
export interface KeypairView {
  access_key: string;
  user_email: string;
  domain_name: string;
  role: KeypairRow['role'];
  is_active: boolean;
  resource_policy: string;
  rate_limit: number | null;
  bootstrap_script: string | null;
  created_at: string;
}

export interface TokenView {
  id: string;
  access_key: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface NewKeypair {
  user_email: string;
  domain_name: string;
  role: KeypairRow['role'];
  resource_policy: string;
  rate_limit: number | null;
  access_key?: string;
  secret_key?: string;
  bootstrap_script?: string | null;
}

export type KeypairPatch = Partial<
  Pick<KeypairRow, 'is_active' | 'role' | 'resource_policy' | 'rate_limit' | 'bootstrap_script'>
>;

interface TokenRow {
  id: string;
  access_key: string;
  name: string;
  token_hash: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export function keypairView(k: KeypairRow): KeypairView {
  return {
    access_key: k.access_key,
    user_email: k.user_email,
    domain_name: k.domain_name,
    role: k.role,
    is_active: k.is_active,
    resource_policy: k.resource_policy,
    rate_limit: k.rate_limit ?? null,
    bootstrap_script: k.bootstrap_script ?? null,
    created_at: k.created_at.toISOString(),
  };
}

function tokenView(t: TokenRow): TokenView {
  return {
    id: t.id,
    access_key: t.access_key,
    name: t.name,
    created_at: t.created_at.toISOString(),
    last_used_at: t.last_used_at?.toISOString() ?? null,
    revoked_at: t.revoked_at?.toISOString() ?? null,
  };
}

/** Keypairs, their bearer tokens and the resource policies they point at. */
export class KeypairStore {
  constructor(
    private readonly db: Db,
    private readonly hashToken: (token: string) => string,
  ) {}

  async get(accessKey: string): Promise<KeypairRow | undefined> {
    return this.db<KeypairRow>('keypairs').where({ access_key: accessKey }).first();
  }

  /** The keypair of an unrevoked API token with this hash (authentication's read). */
  async byTokenHash(tokenHash: string): Promise<TokenKeypair | undefined> {
    return (await this.db('api_tokens as t')
      .join('keypairs as k', 'k.access_key', 't.access_key')
      .where('t.token_hash', tokenHash)
      .whereNull('t.revoked_at')
      .select('k.*', 't.id as token_id', 't.last_used_at as token_last_used_at')
      .first()) as TokenKeypair | undefined;
  }

  async markTokenUsed(tokenId: string): Promise<void> {
    await this.db('api_tokens').where({ id: tokenId }).update({ last_used_at: this.db.fn.now() });
  }

  async list(domain: string | null, opts: { active?: boolean } = {}): Promise<KeypairRow[]> {
    let q = this.db<KeypairRow>('keypairs').orderBy('created_at').orderBy('access_key');
    if (domain !== null) q = q.where({ domain_name: domain });
    if (opts.active !== undefined) q = q.where({ is_active: opts.active });
    return q;
  }

  /** Creates a keypair; the answer is the only time its secret key and webhook secret leave the server. */
  async create(k: NewKeypair): Promise<KeypairRow> {
    await this.requireDomain(k.domain_name);
    await this.requirePolicy(k.resource_policy);
    const row = {
      access_key: k.access_key ?? newAccessKey(),
      secret_key: k.secret_key ?? newSecret(),
      user_email: k.user_email,
      domain_name: k.domain_name,
      role: k.role,
      resource_policy: k.resource_policy,
      rate_limit: k.rate_limit,
      bootstrap_script: k.bootstrap_script ?? null,
      webhook_secret: newSecret(),
    };
    const [inserted] = (await this.db('keypairs')
      .insert(row)
      .onConflict('access_key')
      .ignore()
      .returning('*')) as KeypairRow[];
    if (!inserted) throw new Conflict(`The access key "${row.access_key}" exists.`);
    return inserted;
  }

  async update(accessKey: string, patch: KeypairPatch): Promise<KeypairRow> {
    if (patch.resource_policy !== undefined) await this.requirePolicy(patch.resource_policy);
    const [row] = (await this.db('keypairs')
      .where({ access_key: accessKey })
      .update(patch)
      .returning('*')) as KeypairRow[];
    if (!row) throw new ObjectNotFound(`No keypair "${accessKey}".`, 'keypair');
    return row;
  }

  /** Deletes a keypair that never owned a session (its tokens go with it); others are deactivated instead. */
  async delete(accessKey: string): Promise<void> {
    if (await this.db('sessions').where({ access_key: accessKey }).first())
      throw new Conflict(`The keypair "${accessKey}" owns sessions; deactivate it instead.`);
    const n = await this.db('keypairs').where({ access_key: accessKey }).delete();
    if (n === 0) throw new ObjectNotFound(`No keypair "${accessKey}".`, 'keypair');
  }

  /** A new webhook secret (the old one stops verifying at once). */
  async rotateWebhookSecret(accessKey: string): Promise<string> {
    const secret = newSecret();
    const n = await this.db('keypairs').where({ access_key: accessKey }).update({ webhook_secret: secret });
    if (n === 0) throw new ObjectNotFound(`No keypair "${accessKey}".`, 'keypair');
    return secret;
  }

  async tokens(accessKeys: string[] | null, includeRevoked: boolean): Promise<TokenView[]> {
    let q = this.db<TokenRow>('api_tokens').orderBy('created_at');
    if (accessKeys !== null) q = q.whereIn('access_key', accessKeys);
    if (!includeRevoked) q = q.whereNull('revoked_at');
    return ((await q) as TokenRow[]).map(tokenView);
  }

  async token(id: string): Promise<TokenView | undefined> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
    const row = (await this.db('api_tokens').where({ id }).first()) as TokenRow | undefined;
    return row ? tokenView(row) : undefined;
  }

  /** Creates a bearer token: stored as its SHA-256 only, so the answer is the one chance to read it. */
  async createToken(accessKey: string, name: string): Promise<TokenView & { token: string }> {
    const token = `bai_${randomBytes(32).toString('base64url')}`;
    const [row] = (await this.db('api_tokens')
      .insert({ id: randomUUID(), access_key: accessKey, name, token_hash: this.hashToken(token) })
      .returning('*')) as TokenRow[];
    return { ...tokenView(row!), token };
  }

  async revokeToken(id: string): Promise<TokenView> {
    await this.db('api_tokens')
      .where({ id })
      .whereNull('revoked_at')
      .update({ revoked_at: this.db.fn.now() });
    const t = await this.token(id);
    if (!t) throw new ObjectNotFound(`No token "${id}".`, 'token');
    return t;
  }

  async policies(): Promise<ResourcePolicyRow[]> {
    return this.db<ResourcePolicyRow>('keypair_resource_policies').orderBy('name');
  }

  async policy(name: string): Promise<ResourcePolicyRow | undefined> {
    return this.db<ResourcePolicyRow>('keypair_resource_policies').where({ name }).first();
  }

  async upsertPolicy(
    name: string,
    fields: Partial<Omit<ResourcePolicyRow, 'name'>>,
    mustExist: boolean,
  ): Promise<ResourcePolicyRow> {
    const cols: Record<string, unknown> = { ...fields };
    if (fields.total_resource_slots !== undefined)
      cols.total_resource_slots = JSON.stringify(fields.total_resource_slots);
    if (mustExist) {
      const [row] = (await this.db('keypair_resource_policies')
        .where({ name })
        .update(cols)
        .returning('*')) as ResourcePolicyRow[];
      if (!row) throw new ObjectNotFound(`No resource policy "${name}".`, 'resource policy');
      return row;
    }
    const [row] = (await this.db('keypair_resource_policies')
      .insert({ name, ...cols })
      .onConflict('name')
      .ignore()
      .returning('*')) as ResourcePolicyRow[];
    if (!row) throw new Conflict(`The resource policy "${name}" exists.`);
    return row;
  }

  async deletePolicy(name: string): Promise<void> {
    const used = await this.db('keypairs').where({ resource_policy: name }).first();
    if (used) throw new Conflict(`The resource policy "${name}" is used by keypairs.`);
    const n = await this.db('keypair_resource_policies').where({ name }).delete();
    if (n === 0) throw new ObjectNotFound(`No resource policy "${name}".`, 'resource policy');
  }

  private async requireDomain(name: string): Promise<void> {
    if (!(await this.db('domains').where({ name }).first()))
      throw new InvalidRequest(`Unknown domain "${name}".`);
  }

  private async requirePolicy(name: string): Promise<void> {
    if (!(await this.policy(name))) throw new InvalidRequest(`Unknown resource policy "${name}".`);
  }
}
