import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AuthFailed, InvalidAuthParams, InvalidRequest } from '../domain/errors.js';
import { parseApiVersion, SERVER_API_VERSION } from '../domain/api-version.js';
import { parseAuthorization, sign } from '../domain/signing.js';
import type { KeypairStore } from '../persistence/keypair-store.js';
import type { KeypairRow } from '../persistence/rows.js';

export interface Principal {
  accessKey: string;
  role: KeypairRow['role'];
  domain: string;
  resourcePolicy: string;
  /** Requests a minute; null: the manager's default. */
  rateLimit: number | null;
  via: 'hmac' | 'token';
}

const MAX_SKEW_MS = 15 * 60 * 1000;
const CACHE_MS = 2_000;

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * Authenticates every request but `GET /`, `GET /health`, the OpenAPI document and `/console`: Backend.AI's HMAC signature
 * (Date within ±15 minutes) or a bearer token. Active keypairs are cached for two seconds to
 * spare the database a look-up per request; when an admin route changes a keypair, every
 * manager is told (EventHub.keypairChanged, over Redis) and calls `forget`, so a deactivation
 * takes effect at once (should that message be lost: within the two seconds). Unknown or
 * inactive keys are never cached, and tokens are always looked up.
 */
export class Authenticator {
  private readonly cache = new Map<string, { row: KeypairRow | undefined; at: number }>();

  constructor(private readonly store: Pick<KeypairStore, 'get' | 'byTokenHash' | 'markTokenUsed'>) {}

  private async keypair(accessKey: string): Promise<KeypairRow | undefined> {
    const hit = this.cache.get(accessKey);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.row;
    const row = await this.store.get(accessKey);
    if (this.cache.size > 10_000) this.cache.clear();
    if (row?.is_active) this.cache.set(accessKey, { row, at: Date.now() });
    else this.cache.delete(accessKey);
    return row;
  }

  /** Drops a keypair from the cache after an admin changed it (deactivation, new secret, role). */
  forget(accessKey: string): void {
    this.cache.delete(accessKey);
  }

  middleware() {
    return async (ctx: Context, next: Next): Promise<void> => {
      const versionHeader = ctx.get('x-backendai-version');
      if (versionHeader && !parseApiVersion(versionHeader))
        throw new InvalidRequest('Unsupported API version.');
      ctx.state.apiVersion = versionHeader || SERVER_API_VERSION;
      if (isPublic(ctx)) return next();
      ctx.state.principal = await this.authenticate(ctx, versionHeader);
      return next();
    };
  }

  private async authenticate(ctx: Context, versionHeader: string): Promise<Principal> {
    const header = ctx.get('authorization');
    if (!header) throw new AuthFailed('The request is not signed: no Authorization header.');
    if (/^Bearer\s+/i.test(header)) return this.bearer(header.replace(/^Bearer\s+/i, '').trim());
    const parsed = parseAuthorization(header);
    if (!parsed) throw new InvalidAuthParams('Malformed Authorization header.');
    if (parsed.hash !== 'sha256')
      throw new InvalidAuthParams(`Unsupported sign method ${parsed.signMethod}.`);
    const date = ctx.get('date') || ctx.get('x-backendai-date');
    if (!date) throw new InvalidAuthParams('Date or X-BackendAI-Date header is required.');
    const when = Date.parse(date);
    if (Number.isNaN(when)) throw new InvalidAuthParams('Invalid Date header.');
    if (Math.abs(Date.now() - when) > MAX_SKEW_MS)
      throw new AuthFailed('The request date is more than 15 minutes off.');
    const kp = await this.keypair(parsed.accessKey);
    if (!kp || !kp.is_active) throw new AuthFailed('Unknown or inactive access key.');
    const expected = sign(kp.secret_key, {
      method: ctx.method,
      pathWithQuery: ctx.originalUrl,
      date,
      host: ctx.get('host'),
      contentType: ctx.get('content-type') || undefined,
      apiVersion: versionHeader || SERVER_API_VERSION,
    });
    const a = Buffer.from(expected, 'hex');
    const b = Buffer.from(parsed.signature, 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b)) throw new AuthFailed('Signature mismatch.');
    return principalOf(kp, 'hmac');
  }

  private async bearer(token: string): Promise<Principal> {
    if (token === '' || token.length > 512) throw new InvalidAuthParams('Malformed bearer token.');
    return this.tokenPrincipal(hashToken(token));
  }

  /**
   * The web console's checks (src/api/console): a keypair proven by the SHA-256 of its secret
   * key (compared in constant time), active as for a signed request; the console keeps only
   * the hash, so a new secret ends its sessions.
   */
  async keypairPrincipal(accessKey: string, secretHash: string): Promise<Principal> {
    const kp = accessKey.length > 0 && accessKey.length <= 128 ? await this.keypair(accessKey) : undefined;
    const a = Buffer.from(kp ? hashToken(kp.secret_key) : '', 'hex');
    const b = Buffer.from(secretHash, 'hex');
    if (!kp || !kp.is_active || a.length !== b.length || !timingSafeEqual(a, b))
      throw new AuthFailed('Unknown or inactive access key, or wrong secret key.');
    return principalOf(kp, 'hmac');
  }

  /** A bearer token's principal by the token's hash (the API's check; the console keeps the hash). */
  async tokenPrincipal(tokenHash: string): Promise<Principal> {
    const row = await this.store.byTokenHash(tokenHash);
    if (!row || !row.is_active) throw new AuthFailed('Unknown, revoked or inactive token.');
    // Mark the token as used, at most once a minute: a cron job's token shows it is alive.
    if (!row.token_last_used_at || Date.now() - row.token_last_used_at.getTime() > 60_000) {
      await this.store.markTokenUsed(row.token_id);
    }
    return principalOf(row, 'token');
  }
}

function principalOf(kp: KeypairRow, via: Principal['via']): Principal {
  return {
    accessKey: kp.access_key,
    role: kp.role,
    domain: kp.domain_name,
    resourcePolicy: kp.resource_policy,
    rateLimit: kp.rate_limit ?? null,
    via,
  };
}

/** Unsigned GETs: version, OpenAPI, probes, and Prometheus (which checks its own token). */
const PUBLIC_PATHS = new Set(['/', '/openapi.json', '/health', '/metrics']);

function isPublic(ctx: Context): boolean {
  // The web console authenticates with its own cookie (src/api/console/console-auth.ts).
  if (ctx.path === '/console' || ctx.path.startsWith('/console/')) return true;
  return ctx.method === 'GET' && PUBLIC_PATHS.has(ctx.path);
}
