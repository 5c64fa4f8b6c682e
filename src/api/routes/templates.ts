import Router from '@koa/router';
import type { Context } from 'koa';
import { checkDomain, DEFAULT_GROUP } from '../../domain/admission.js';
import { isUuid } from '../../domain/body-fields.js';
import { Forbidden, InvalidRequest, ObjectNotFound } from '../../domain/errors.js';
import { requireGroupName } from '../../domain/storage-folder.js';
import {
  mergeCreateOverrides,
  parseTemplatePayload,
  templateToCreateBody,
  type TemplateItem,
} from '../../domain/session-template.js';
import type { TemplateListRow, TemplateRow } from '../../persistence/template-store.js';
import type { ApiContext } from '../api-context.js';
import { requestScopeOf } from '../request-context.js';
import { mayManageKeypair } from '../access.js';
import type { Principal } from '../auth.js';
import { bodyOf, onlyFields, optString, queryFlag, queryOf } from '../params.js';

const PAYLOAD_MAX = 256 * 1024;

function principal(ctx: Context): Principal {
  return ctx.state.principal as Principal;
}

/** A template id in its dashed form (Backend.AI prints ids as 32 hex digits); null when none. */
function templateId(raw: string): string | null {
  const h = raw.length === 32 ? raw : raw.replace(/-/g, '');
  const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  return (raw.length === 32 || raw === id) && isUuid(id) ? id.toLowerCase() : null;
}

function notFound(id: string): ObjectNotFound {
  return new ObjectNotFound(`No session template "${id}".`, 'session template');
}

function listItem(t: TemplateListRow, p: Principal) {
  return {
    name: t.name,
    id: t.id,
    created_at: t.created_at.toISOString(),
    is_owner: t.owner_access_key === p.accessKey,
    user: t.owner_access_key,
    group: t.group_name,
    user_email: t.user_email,
    group_name: t.group_name,
    domain_name: t.domain_name,
    type: 'task',
    template: t.template,
  };
}

/**
 * Backend.AI's session templates (`/template/session`) and `create-from-template`. A template
 * is seen by its owning keypair, by admins of its domain and by superadmins; to anyone else it
 * does not exist (404).
 */
export function templateRoutes(api: ApiContext): Router {
  const r = new Router();
  const store = api.templates;

  /** The template `raw` names, if `p` (acting for `ownerParam`, when given) may see it. */
  const visible = async (p: Principal, raw: string, ownerParam?: string): Promise<TemplateRow> => {
    const id = templateId(raw);
    if (id === null) throw notFound(raw);
    const actingFor = ownerParam ? await api.service.ownerOf(p, ownerParam) : null;
    const t = await store.get(id);
    if (!t || !mayManageKeypair(p, t.owner_access_key, t.domain_name)) throw notFound(raw);
    if (actingFor !== null && t.owner_access_key !== actingFor) throw notFound(raw);
    return t;
  };

  const payloadOf = async (b: Record<string, unknown>): Promise<TemplateItem[]> => {
    const payload = b.payload;
    if (typeof payload !== 'string')
      throw new InvalidRequest('payload must be a string (the template as YAML or JSON).', {
        data: { field: 'payload' },
      });
    if (payload.length > PAYLOAD_MAX)
      throw new InvalidRequest(`payload is longer than ${PAYLOAD_MAX} characters.`, {
        data: { field: 'payload' },
      });
    // The YAML library is loaded by the first template request, not by every manager's start.
    return parseTemplatePayload(payload, await import('yaml'));
  };

  const groupOf = (b: Record<string, unknown>): string | undefined => {
    const g = optString(b, 'group', 64) ?? optString(b, 'group_name', 64) ?? optString(b, 'groupName', 64);
    return g === undefined ? undefined : requireGroupName(g);
  };

  /** Backend.AI's `domain` field: the owner's domain is the only one a template may name. */
  const checkTemplateDomain = (b: Record<string, unknown>, ownerDomain: string): void => {
    const d = optString(b, 'domain', 64) ?? optString(b, 'domain_name', 64) ?? optString(b, 'domainName', 64);
    if (d !== undefined) checkDomain(d, ownerDomain, false);
  };

  const FIELDS = [
    'payload',
    'group',
    'group_name',
    'groupName',
    'domain',
    'domain_name',
    'domainName',
    'owner_access_key',
  ];

  r.post('/template/session', async (ctx) => {
    const b = bodyOf(ctx);
    onlyFields(b, FIELDS);
    const kp = await api.service.ownerKeypair(principal(ctx), optString(b, 'owner_access_key', 64));
    const owner = kp.access_key;
    checkTemplateDomain(b, kp.domain_name);
    const items = await payloadOf(b);
    const ids = await store.create(items, kp, groupOf(b) ?? DEFAULT_GROUP);
    ctx.body = ids.map((id) => ({ id, user: owner }));
  });

  r.get('/template/session', async (ctx) => {
    const p = principal(ctx);
    const all = queryFlag(ctx, 'all');
    let scope: { ownerAccessKey: string | null; domain: string | null };
    if (all) {
      if (p.role === 'user') throw new Forbidden('all=true is for administrators.');
      scope = { ownerAccessKey: null, domain: p.role === 'superadmin' ? null : p.domain };
    } else
      scope = {
        ownerAccessKey: await api.service.ownerOf(p, queryOf(ctx, 'owner_access_key')),
        domain: null,
      };
    ctx.body = (await store.list(scope)).map((t) => listItem(t, p));
  });

  r.get('/template/session/:id', async (ctx) => {
    const format = queryOf(ctx, 'format') ?? 'json';
    if (format !== 'json' && format !== 'yaml')
      throw new InvalidRequest('format must be "yaml" or "json".', { data: { field: 'format' } });
    const t = await visible(principal(ctx), ctx.params.id ?? '', queryOf(ctx, 'owner_access_key'));
    const doc = {
      id: t.id,
      name: t.name,
      template: t.template,
      owner_access_key: t.owner_access_key,
      domain_name: t.domain_name,
      group_name: t.group_name,
      created_at: t.created_at.toISOString(),
    };
    if (format === 'yaml') {
      ctx.type = 'application/yaml';
      ctx.body = (await import('yaml')).stringify(doc);
    } else ctx.body = doc;
  });

  r.put('/template/session/:id', async (ctx) => {
    const b = bodyOf(ctx);
    onlyFields(b, FIELDS);
    const t = await visible(principal(ctx), ctx.params.id ?? '', optString(b, 'owner_access_key', 64));
    checkTemplateDomain(b, t.domain_name);
    const items = await payloadOf(b);
    if (items.length !== 1)
      throw new InvalidRequest('payload must hold exactly one template to replace this one.', {
        data: { field: 'payload' },
      });
    if (!(await store.update(t.id, items[0]!, groupOf(b)))) throw notFound(t.id);
    ctx.body = { success: true };
  });

  r.delete('/template/session/:id', async (ctx) => {
    const t = await visible(principal(ctx), ctx.params.id ?? '', queryOf(ctx, 'owner_access_key'));
    if (!(await store.deactivate(t.id))) throw notFound(t.id);
    ctx.body = { success: true };
  });

  r.post('/session/_/create-from-template', async (ctx) => {
    const b = bodyOf(ctx);
    const raw = b.template_id ?? b.templateId;
    if (typeof raw !== 'string' || raw === '')
      throw new InvalidRequest('template_id is required.', { data: { field: 'template_id' } });
    if (templateId(raw) === null)
      throw new InvalidRequest('template_id must be a UUID.', { data: { field: 'template_id' } });
    const t = await visible(principal(ctx), raw);
    const base = templateToCreateBody(t.template, { domain: t.domain_name, group: t.group_name });
    const { answer, status } = await api.service.create(
      principal(ctx),
      mergeCreateOverrides(base, b),
      undefined,
      undefined,
      requestScopeOf(ctx),
    );
    ctx.status = status;
    ctx.body = answer;
  });

  return r;
}
