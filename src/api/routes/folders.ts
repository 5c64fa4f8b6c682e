import Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidRequest, ObjectNotFound } from '../../domain/errors.js';
import { requirePrintable } from '../../domain/printable.js';
import { parsePermission, requireFolderName, requireGroupName } from '../../domain/storage-folder.js';
import type { ApiContext } from '../api-context.js';
import type { Principal } from '../auth.js';
import { domainScope } from '../access.js';
import { bodyOf, onlyFields, optString, queryOf } from '../params.js';

function principal(ctx: Context): Principal {
  return ctx.state.principal as Principal;
}

/**
 * Storage folders, bai's counterpart of Backend.AI's vfolders: a keypair creates, lists and
 * deletes its own, and shares them with other keypairs of its domain, read-only or
 * read-write. A folder the caller neither owns nor was invited to is a 404, as if it did not
 * exist. Admins act for a keypair of their domain with `owner_access_key`, and keep groups:
 * a group's folders are used read-write by its members.
 */
export function folderRoutes(api: ApiContext): Router {
  const r = new Router();
  const store = api.folders;

  const actingFor = async (ctx: Context, fromBody?: string): Promise<string> =>
    api.service.ownerOf(principal(ctx), fromBody ?? queryOf(ctx, 'owner_access_key'));

  const nameParam = (ctx: Context): string => {
    const name = ctx.params.name ?? '';
    requirePrintable(name, 'name');
    return requireFolderName(name);
  };

  r.get('/folders', async (ctx) => {
    ctx.body = { items: await store.list(await actingFor(ctx)) };
  });

  /** The admin's domain and the group a request names (superadmins: `domain`, else their own). */
  const groupOf = (ctx: Context, group: string, domain: string | undefined) => {
    const p = principal(ctx);
    return { domain: domainScope(p, domain) ?? p.domain, group: requireGroupName(group) };
  };

  r.post('/folders', async (ctx) => {
    const b = bodyOf(ctx);
    onlyFields(b, ['name', 'owner_access_key', 'group', 'domain']);
    const name = requireFolderName(requirePrintable(optString(b, 'name', 128) ?? '', 'name'));
    const group = optString(b, 'group', 64);
    if (group !== undefined) {
      const g = groupOf(ctx, group, optString(b, 'domain', 64));
      if (!(await api.catalog.domain(g.domain))) throw new InvalidRequest(`Unknown domain "${g.domain}".`);
      ctx.status = 201;
      ctx.body = await store.createForGroup(g.domain, g.group, name);
      return;
    }
    const owner = await actingFor(ctx, optString(b, 'owner_access_key', 64));
    const kp = (await api.catalog.keypair(owner))!;
    ctx.status = 201;
    ctx.body = await store.create(kp, name);
  });

  r.get('/folders/:name', async (ctx) => {
    ctx.body = await store.view(await actingFor(ctx), nameParam(ctx));
  });

  r.delete('/folders/:name', async (ctx) => {
    const group = queryOf(ctx, 'group');
    const f =
      group !== undefined
        ? await (async () => {
            const g = groupOf(ctx, group, queryOf(ctx, 'domain'));
            return store.deleteGroupFolder(g.domain, g.group, nameParam(ctx));
          })()
        : await store.delete(await actingFor(ctx), nameParam(ctx));
    // The files stay on the agents' disks (no agent is asked to delete): see docs/api.md.
    ctx.body = { deleted: f.name, storage_path: f.storage_path };
  });

  r.post('/folders/:name/share', async (ctx) => {
    const b = bodyOf(ctx);
    onlyFields(b, ['access_key', 'permission']);
    const owner = await actingFor(ctx);
    const f = await store.owned(owner, nameParam(ctx));
    const invitee = optString(b, 'access_key', 64) ?? '';
    const permission = b.permission === undefined ? 'ro' : parsePermission(b.permission);
    const kp = await api.catalog.keypair(invitee);
    if (!kp || kp.domain_name !== f.domain_name)
      throw new ObjectNotFound(`No keypair "${invitee}" in domain "${f.domain_name}".`, 'keypair');
    await store.share(f, kp.access_key, permission);
    ctx.body = await store.view(owner, f.name);
  });

  r.delete('/folders/:name/share/:accessKey', async (ctx) => {
    const owner = await actingFor(ctx);
    const f = await store.owned(owner, nameParam(ctx));
    await store.unshare(f, ctx.params.accessKey ?? '');
    ctx.body = await store.view(owner, f.name);
  });

  // Group membership (admins of the group's domain).

  r.get('/groups/:group/members', async (ctx) => {
    const g = groupOf(ctx, ctx.params.group ?? '', queryOf(ctx, 'domain'));
    ctx.body = { domain_name: g.domain, group_name: g.group, items: await store.members(g.domain, g.group) };
  });

  r.put('/groups/:group/members/:accessKey', async (ctx) => {
    const g = groupOf(ctx, ctx.params.group ?? '', queryOf(ctx, 'domain'));
    const kp = await api.catalog.keypair(ctx.params.accessKey ?? '');
    if (!kp || kp.domain_name !== g.domain)
      throw new ObjectNotFound(`No keypair "${ctx.params.accessKey}" in domain "${g.domain}".`, 'keypair');
    await store.addMember(g.domain, g.group, kp.access_key);
    ctx.body = { domain_name: g.domain, group_name: g.group, items: await store.members(g.domain, g.group) };
  });

  r.delete('/groups/:group/members/:accessKey', async (ctx) => {
    const g = groupOf(ctx, ctx.params.group ?? '', queryOf(ctx, 'domain'));
    await store.removeMember(g.domain, g.group, ctx.params.accessKey ?? '');
    ctx.body = { domain_name: g.domain, group_name: g.group, items: await store.members(g.domain, g.group) };
  });

  return r;
}
