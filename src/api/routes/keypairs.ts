import Router from '@koa/router';
import type { Context } from 'koa';
import { InsufficientPrivilege, InvalidRequest, ObjectNotFound } from '../../domain/errors.js';
import { requirePrintable } from '../../domain/printable.js';
import { keypairView, type KeypairStore } from '../../persistence/keypair-store.js';
import type { KeypairRow, ResourcePolicyRow } from '../../persistence/rows.js';
import { domainScope, mayManageKeypair, requireAdmin, requireSuperadmin } from '../access.js';
import type { Principal } from '../auth.js';
import { bodyOf, onlyFields, optBool, optInt, optNumberMap, optString, queryOf, reqName } from '../params.js';

const ROLES: readonly KeypairRow['role'][] = ['user', 'admin', 'superadmin'];
const EMAIL_RE = /^[^\s@]{1,128}@[^\s@]{1,128}$/;
const KEY_RE = /^[A-Za-z0-9_-]{8,64}$/;

function principal(ctx: Context): Principal {
  return ctx.state.principal as Principal;
}

function roleOf(v: string | undefined): KeypairRow['role'] | undefined {
  if (v === undefined) return undefined;
  if (!ROLES.includes(v as KeypairRow['role']))
    throw new InvalidRequest('role must be user, admin or superadmin.');
  return v as KeypairRow['role'];
}

function policyView(p: ResourcePolicyRow): Record<string, unknown> {
  return {
    name: p.name,
    max_concurrent_sessions: p.max_concurrent_sessions,
    max_pending_session_count: p.max_pending_session_count,
    max_priority: p.max_priority,
    total_resource_slots: p.total_resource_slots,
  };
}

/** `bootstrap_script`: text run before each session of the keypair that brings none; "" or null clears it. */
function bootstrapScriptOf(b: Record<string, unknown>): string | null | undefined {
  const v = b.bootstrap_script;
  if (v === undefined) return undefined;
  if (v === null || v === '') return null;
  if (typeof v !== 'string' || v.length > 65536)
    throw new InvalidRequest('bootstrap_script must be a string of at most 65536 characters.');
  return requirePrintable(v, 'bootstrap_script', true);
}

/**
 * Keypairs, bearer tokens and resource policies as REST (Backend.AI does these through
 * GraphQL). `onKeypairChanged` lets the authenticator and the submit path drop a cached keypair
 * at once, `onPolicyChanged` the submit path a cached resource policy.
 */
export function keypairRoutes(
  store: KeypairStore,
  onKeypairChanged: (accessKey: string) => void,
  onPolicyChanged: (name: string) => void,
): Router {
  const r = new Router();

  /** A keypair the principal may manage, else 404 (others' keypairs are not seen). */
  const managed = async (ctx: Context, accessKey: string): Promise<KeypairRow> => {
    const p = principal(ctx);
    const kp = await store.get(accessKey);
    if (!kp || !mayManageKeypair(p, kp.access_key, kp.domain_name))
      throw new ObjectNotFound(`No keypair "${accessKey}".`, 'keypair');
    return kp;
  };

  r.get('/keypairs/me', async (ctx) => {
    const kp = (await store.get(principal(ctx).accessKey))!;
    ctx.body = {
      ...keypairView(kp),
      webhook_secret: kp.webhook_secret,
      authenticated_by: principal(ctx).via,
    };
  });

  r.post('/keypairs/me/webhook-secret', async (ctx) => {
    ctx.body = { webhook_secret: await store.rotateWebhookSecret(principal(ctx).accessKey) };
  });

  r.get('/keypairs', async (ctx) => {
    const scope = domainScope(principal(ctx), queryOf(ctx, 'domain'));
    const active = queryOf(ctx, 'is_active');
    if (active !== undefined && active !== 'true' && active !== 'false')
      throw new InvalidRequest('is_active must be true or false.');
    const rows = await store.list(scope, { active: active === undefined ? undefined : active === 'true' });
    ctx.body = { items: rows.map(keypairView) };
  });

  r.post('/keypairs', async (ctx) => {
    const p = principal(ctx);
    const b = bodyOf(ctx);
    onlyFields(b, [
      'user_email',
      'domain_name',
      'role',
      'resource_policy',
      'rate_limit',
      'access_key',
      'secret_key',
      'bootstrap_script',
    ]);
    const email = optString(b, 'user_email', 256);
    if (!email || !EMAIL_RE.test(email)) throw new InvalidRequest('user_email must be an e-mail address.');
    const domain = domainScope(p, optString(b, 'domain_name', 64)) ?? p.domain;
    const role = roleOf(optString(b, 'role', 16)) ?? 'user';
    if (role === 'superadmin' && p.role !== 'superadmin')
      throw new InsufficientPrivilege('Only superadmins create superadmin keypairs.');
    const accessKey = optString(b, 'access_key', 64);
    const secretKey = optString(b, 'secret_key', 128);
    if (accessKey !== undefined && !KEY_RE.test(accessKey))
      throw new InvalidRequest('access_key must be 8 to 64 letters, digits, "_" or "-".');
    if (secretKey !== undefined && secretKey.length < 16)
      throw new InvalidRequest('secret_key must be at least 16 characters.');
    const kp = await store.create({
      user_email: email,
      domain_name: domain,
      role,
      resource_policy: optString(b, 'resource_policy', 64) ?? 'default',
      rate_limit: (optInt(b, 'rate_limit', 1, 10_000_000, true) as number | null | undefined) ?? null,
      access_key: accessKey,
      secret_key: secretKey,
      bootstrap_script: bootstrapScriptOf(b) ?? null,
    });
    ctx.status = 201;
    ctx.body = { ...keypairView(kp), secret_key: kp.secret_key, webhook_secret: kp.webhook_secret };
  });

  r.get('/keypairs/:accessKey', async (ctx) => {
    ctx.body = keypairView(await managed(ctx, ctx.params.accessKey!));
  });

  r.patch('/keypairs/:accessKey', async (ctx) => {
    const p = principal(ctx);
    requireAdmin(p);
    const kp = await managed(ctx, ctx.params.accessKey!);
    const b = bodyOf(ctx);
    onlyFields(b, ['is_active', 'role', 'resource_policy', 'rate_limit', 'bootstrap_script']);
    const bootstrap = bootstrapScriptOf(b);
    const role = roleOf(optString(b, 'role', 16));
    if (p.role !== 'superadmin' && (role === 'superadmin' || kp.role === 'superadmin'))
      throw new InsufficientPrivilege('Only superadmins change superadmin keypairs.');
    const rateLimit = optInt(b, 'rate_limit', 1, 10_000_000, true);
    const row = await store.update(kp.access_key, {
      ...(optBool(b, 'is_active') !== undefined ? { is_active: optBool(b, 'is_active')! } : {}),
      ...(role !== undefined ? { role } : {}),
      ...(optString(b, 'resource_policy', 64) !== undefined
        ? { resource_policy: optString(b, 'resource_policy', 64)! }
        : {}),
      ...(rateLimit !== undefined ? { rate_limit: rateLimit } : {}),
      ...(bootstrap !== undefined ? { bootstrap_script: bootstrap } : {}),
    });
    onKeypairChanged(row.access_key);
    ctx.body = keypairView(row);
  });

  r.delete('/keypairs/:accessKey', async (ctx) => {
    const p = principal(ctx);
    requireAdmin(p);
    const kp = await managed(ctx, ctx.params.accessKey!);
    if (kp.role === 'superadmin' && p.role !== 'superadmin')
      throw new InsufficientPrivilege('Only superadmins delete superadmin keypairs.');
    if (kp.access_key === p.accessKey) throw new InvalidRequest('A keypair cannot delete itself.');
    await store.delete(kp.access_key);
    onKeypairChanged(kp.access_key);
    ctx.body = { deleted: kp.access_key };
  });

  // Bearer tokens: a user manages their own; admins those of their domain.

  r.get('/tokens', async (ctx) => {
    const p = principal(ctx);
    const ak = queryOf(ctx, 'access_key');
    const all = queryOf(ctx, 'include_revoked') === 'true';
    if (ak) {
      await managed(ctx, ak);
      ctx.body = { items: await store.tokens([ak], all) };
    } else if (queryOf(ctx, 'all') === 'true') {
      const scope = domainScope(p, undefined);
      const keys = scope === null ? null : (await store.list(scope)).map((k) => k.access_key);
      ctx.body = { items: await store.tokens(keys, all) };
    } else {
      ctx.body = { items: await store.tokens([p.accessKey], all) };
    }
  });

  r.post('/tokens', async (ctx) => {
    const p = principal(ctx);
    const b = bodyOf(ctx);
    onlyFields(b, ['name', 'access_key']);
    const name = optString(b, 'name', 128) ?? '';
    const ak = optString(b, 'access_key', 64) ?? p.accessKey;
    const kp = await managed(ctx, ak);
    if (!kp.is_active) throw new InvalidRequest(`The keypair "${ak}" is inactive.`);
    ctx.status = 201;
    ctx.body = await store.createToken(kp.access_key, name);
  });

  r.delete('/tokens/:id', async (ctx) => {
    const t = await store.token(ctx.params.id!);
    if (!t) throw new ObjectNotFound(`No token "${ctx.params.id}".`, 'token');
    await managed(ctx, t.access_key).catch((err: unknown) => {
      // A token of a keypair the caller may not manage is not seen either: the same 404.
      if (err instanceof ObjectNotFound) throw new ObjectNotFound(`No token "${ctx.params.id}".`, 'token');
      throw err;
    });
    ctx.body = await store.revokeToken(t.id);
  });

  // Resource policies: admins read, superadmins write.

  r.get('/resource-policies', async (ctx) => {
    requireAdmin(principal(ctx));
    ctx.body = { items: (await store.policies()).map(policyView) };
  });

  const policyFields = (ctx: Context) => {
    const b = bodyOf(ctx);
    onlyFields(b, [
      'name',
      'max_concurrent_sessions',
      'max_pending_session_count',
      'max_priority',
      'total_resource_slots',
    ]);
    const f: Partial<Omit<ResourcePolicyRow, 'name'>> = {};
    const mcs = optInt(b, 'max_concurrent_sessions', 0, 1_000_000);
    if (typeof mcs === 'number') f.max_concurrent_sessions = mcs;
    const mpc = optInt(b, 'max_pending_session_count', 0, 1_000_000, true);
    if (mpc !== undefined) f.max_pending_session_count = mpc;
    const mp = optInt(b, 'max_priority', 0, 100);
    if (typeof mp === 'number') f.max_priority = mp;
    const slots = optNumberMap(b, 'total_resource_slots');
    if (slots) f.total_resource_slots = slots;
    return { b, f };
  };

  r.post('/resource-policies', async (ctx) => {
    requireSuperadmin(principal(ctx));
    const { b, f } = policyFields(ctx);
    ctx.status = 201;
    ctx.body = policyView(await store.upsertPolicy(reqName(b, 'name'), f, false));
  });

  r.patch('/resource-policies/:name', async (ctx) => {
    requireSuperadmin(principal(ctx));
    const { f } = policyFields(ctx);
    ctx.body = policyView(await store.upsertPolicy(ctx.params.name!, f, true));
    onPolicyChanged(ctx.params.name!);
  });

  r.delete('/resource-policies/:name', async (ctx) => {
    requireSuperadmin(principal(ctx));
    await store.deletePolicy(ctx.params.name!);
    onPolicyChanged(ctx.params.name!);
    ctx.body = { deleted: ctx.params.name };
  });

  return r;
}
