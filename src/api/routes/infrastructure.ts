import Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidRequest, ObjectNotFound } from '../../domain/errors.js';
import { isValidImageRef } from '../../domain/image-ref.js';
import { domainView, scalingGroupView, type InfraStore } from '../../persistence/infra-store.js';
import { domainScope, requireAdmin, requireSuperadmin } from '../access.js';
import type { Principal } from '../auth.js';
import {
  bodyOf,
  onlyFields,
  optBool,
  optInt,
  optString,
  optStringList,
  optStringMap,
  queryOf,
  reqName,
} from '../params.js';

const HOST_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,250})(:\d{1,5})?$/;
const ALIAS_RE = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,255}$/;

function principal(ctx: Context): Principal {
  return ctx.state.principal as Principal;
}

/**
 * Domains, scaling groups, container registries, images and aliases, agents. Everyone may list
 * images, aliases and scaling groups (to know what to ask for); admins read the rest;
 * superadmins change it. Registry credentials are accepted and never returned. `forget` tells
 * every manager's submit path that a scaling group or domain changed (CatalogStore.forget).
 */
export function infrastructureRoutes(
  store: InfraStore,
  forget: (kind: 'scaling group' | 'domain', name: string) => void,
): Router {
  const r = new Router();

  // Domains

  r.get('/domains', async (ctx) => {
    const scope = domainScope(principal(ctx), undefined);
    ctx.body = { items: (await store.domains(scope)).map(domainView) };
  });

  r.get('/domains/:name', async (ctx) => {
    const scope = domainScope(principal(ctx), ctx.params.name);
    const [d] = await store.domains(scope ?? ctx.params.name!);
    if (!d) throw new ObjectNotFound(`No domain "${ctx.params.name}".`, 'domain');
    ctx.body = domainView(d);
  });

  const domainFields = (ctx: Context) => {
    const b = bodyOf(ctx);
    onlyFields(b, ['name', 'allowed_registries', 'allowed_storage', 'is_active']);
    const regs = optStringList(b, 'allowed_registries');
    for (const h of regs ?? [])
      if (!HOST_RE.test(h)) throw new InvalidRequest(`allowed_registries: "${h}" is not a registry host.`);
    const f: { allowed_registries?: string[]; allowed_storage?: string[]; is_active?: boolean } = {};
    if (regs) f.allowed_registries = regs;
    const storage = optStringList(b, 'allowed_storage');
    if (storage) f.allowed_storage = storage;
    const active = optBool(b, 'is_active');
    if (active !== undefined) f.is_active = active;
    return { b, f };
  };

  r.post('/domains', async (ctx) => {
    requireSuperadmin(principal(ctx));
    const { b, f } = domainFields(ctx);
    ctx.status = 201;
    const name = reqName(b, 'name');
    ctx.body = domainView(await store.upsertDomain(name, f, false));
    forget('domain', name);
  });

  r.patch('/domains/:name', async (ctx) => {
    requireSuperadmin(principal(ctx));
    const { f } = domainFields(ctx);
    ctx.body = domainView(await store.upsertDomain(ctx.params.name!, f, true));
    forget('domain', ctx.params.name!);
  });

  // Scaling groups

  r.get('/scaling-groups', async (ctx) => {
    ctx.body = { items: (await store.scalingGroups()).map(scalingGroupView) };
  });

  const groupFields = (ctx: Context) => {
    const b = bodyOf(ctx);
    onlyFields(b, ['name', 'description', 'is_active', 'pending_timeout_sec']);
    const f: { description?: string; is_active?: boolean; pending_timeout_sec?: number } = {};
    const d = optString(b, 'description', 512);
    if (d !== undefined) f.description = d;
    const a = optBool(b, 'is_active');
    if (a !== undefined) f.is_active = a;
    const t = optInt(b, 'pending_timeout_sec', 0, 365 * 86400);
    if (typeof t === 'number') f.pending_timeout_sec = t;
    return { b, f };
  };

  r.post('/scaling-groups', async (ctx) => {
    requireSuperadmin(principal(ctx));
    const { b, f } = groupFields(ctx);
    ctx.status = 201;
    const name = reqName(b, 'name');
    ctx.body = scalingGroupView(await store.upsertScalingGroup(name, f, false));
    forget('scaling group', name);
  });

  r.patch('/scaling-groups/:name', async (ctx) => {
    requireSuperadmin(principal(ctx));
    const { f } = groupFields(ctx);
    ctx.body = scalingGroupView(await store.upsertScalingGroup(ctx.params.name!, f, true));
    forget('scaling group', ctx.params.name!);
  });

  r.delete('/scaling-groups/:name', async (ctx) => {
    requireSuperadmin(principal(ctx));
    await store.deleteScalingGroup(ctx.params.name!);
    forget('scaling group', ctx.params.name!);
    ctx.body = { deleted: ctx.params.name };
  });

  // Who may use a scaling group (Backend.AI's sgroups_for_domains / sgroups_for_keypairs).

  r.get('/scaling-groups/:name/access', async (ctx) => {
    requireSuperadmin(principal(ctx));
    ctx.body = await store.scalingGroupAccess(ctx.params.name!);
  });

  const access = (kind: 'domain' | 'keypair', param: string, allow: boolean) => async (ctx: Context) => {
    requireSuperadmin(principal(ctx));
    await store.setScalingGroupAccess(ctx.params.name!, kind, ctx.params[param]!, allow);
    forget('scaling group', ctx.params.name!);
    ctx.body = await store.scalingGroupAccess(ctx.params.name!);
  };
  r.put('/scaling-groups/:name/domains/:domain', access('domain', 'domain', true));
  r.delete('/scaling-groups/:name/domains/:domain', access('domain', 'domain', false));
  r.put('/scaling-groups/:name/keypairs/:accessKey', access('keypair', 'accessKey', true));
  r.delete('/scaling-groups/:name/keypairs/:accessKey', access('keypair', 'accessKey', false));

  // Container registries

  r.get('/registries', async (ctx) => {
    requireAdmin(principal(ctx));
    ctx.body = { items: await store.registries() };
  });

  r.post('/registries', async (ctx) => {
    requireSuperadmin(principal(ctx));
    const b = bodyOf(ctx);
    onlyFields(b, ['hostname', 'url', 'username', 'password']);
    const hostname = optString(b, 'hostname', 256);
    if (!hostname || !HOST_RE.test(hostname))
      throw new InvalidRequest('hostname must be a registry host, e.g. 127.0.0.1:5000.');
    const url = optString(b, 'url', 512);
    if (url !== undefined && !/^https?:\/\/[^\s]+$/.test(url))
      throw new InvalidRequest('url must be an http(s) URL.');
    const username = b.username === null ? null : optString(b, 'username', 256);
    const password = b.password === null ? null : optString(b, 'password', 512);
    if ((username === undefined) !== (password === undefined))
      throw new InvalidRequest('username and password go together.');
    ctx.status = 201;
    ctx.body = await store.upsertRegistry(hostname, { url, username, password });
  });

  r.delete('/registries/:hostname', async (ctx) => {
    requireSuperadmin(principal(ctx));
    await store.deleteRegistry(ctx.params.hostname!);
    ctx.body = { deleted: ctx.params.hostname };
  });

  // Images and aliases

  r.get('/images', async (ctx) => {
    ctx.body = { items: await store.images() };
  });

  r.post('/images', async (ctx) => {
    requireSuperadmin(principal(ctx));
    const b = bodyOf(ctx);
    onlyFields(b, ['name', 'labels']);
    const name = optString(b, 'name', 512);
    if (!name || !isValidImageRef(name)) throw new InvalidRequest('name must be an image reference.');
    ctx.status = 201;
    ctx.body = await store.upsertImage(name, optStringMap(b, 'labels') ?? {});
  });

  r.delete('/images/:name', async (ctx) => {
    requireSuperadmin(principal(ctx));
    await store.deleteImage(ctx.params.name!);
    ctx.body = { deleted: ctx.params.name };
  });

  r.get('/image-aliases', async (ctx) => {
    ctx.body = { items: await store.aliases() };
  });

  r.put('/image-aliases/:alias', async (ctx) => {
    requireSuperadmin(principal(ctx));
    const alias = ctx.params.alias!;
    if (!ALIAS_RE.test(alias)) throw new InvalidRequest(`"${alias}" is not a valid alias.`);
    const b = bodyOf(ctx);
    onlyFields(b, ['image']);
    const image = optString(b, 'image', 512);
    if (!image) throw new InvalidRequest('image is required.');
    ctx.body = await store.setAlias(alias, image);
  });

  r.delete('/image-aliases/:alias', async (ctx) => {
    requireSuperadmin(principal(ctx));
    await store.deleteAlias(ctx.params.alias!);
    ctx.body = { deleted: ctx.params.alias };
  });

  // Agents

  r.get('/agents', async (ctx) => {
    requireAdmin(principal(ctx));
    const status = queryOf(ctx, 'status');
    if (status !== undefined && !['ALIVE', 'LOST', 'TERMINATED'].includes(status))
      throw new InvalidRequest('status must be ALIVE, LOST or TERMINATED.');
    ctx.body = { items: await store.agents({ scalingGroup: queryOf(ctx, 'scaling_group'), status }) };
  });

  r.patch('/agents/:id', async (ctx) => {
    requireSuperadmin(principal(ctx));
    const b = bodyOf(ctx);
    onlyFields(b, ['schedulable']);
    const s = optBool(b, 'schedulable');
    if (s === undefined) throw new InvalidRequest('schedulable (true or false) is required.');
    ctx.body = await store.setSchedulable(ctx.params.id!, s);
  });

  return r;
}
