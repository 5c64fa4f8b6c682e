import { ok, p, q, ref, type Json, type Op } from './common.js';

/** OpenAPI operations of the tag templates (Backend.AI's session templates). */
const TEMPLATE_ID = p('id', 'Template id (dashed UUID or 32 hex digits)');
const OWNER = q('owner_access_key', 'Admins: as this keypair (the template must be its)');

const str: Json = { type: 'string' };
const TEMPLATE_BODY: Json = {
  type: 'object',
  required: ['payload'],
  properties: {
    payload: {
      type: 'string',
      description:
        'YAML or JSON text: a taskTemplate document (api_version, kind, metadata.name, spec.session_type, spec.kernel.{image, architecture, environ, run.{bootstrap, startup_command}}, spec.scaling_group, spec.mounts, spec.resources), {"session_templates": [{"template": …, "name": …}]}, a list of such entries, or several YAML documents',
    },
    group: {
      type: 'string',
      description: 'Group of the sessions made from it (default "default"); also group_name, groupName',
    },
    domain: {
      type: 'string',
      description: "Must be the owner's domain when given; also domain_name, domainName",
    },
    owner_access_key: { type: 'string', description: 'Admins: store it for this keypair' },
  },
};
const TEMPLATE: Json = {
  type: 'object',
  description: 'The checked template, keys in one spelling',
  properties: {
    api_version: str,
    kind: { enum: ['taskTemplate', 'task_template'] },
    metadata: { type: 'object', properties: { name: str, tag: { type: ['string', 'null'] } } },
    spec: { type: 'object', additionalProperties: true },
  },
};
const LIST_ITEM: Json = {
  type: 'object',
  properties: {
    id: str,
    name: str,
    created_at: str,
    is_owner: { type: 'boolean' },
    user: { type: 'string', description: "The owner's access key (Backend.AI: the user's UUID)" },
    user_email: str,
    group: { type: ['string', 'null'] },
    group_name: { type: ['string', 'null'] },
    domain_name: str,
    type: { const: 'task' },
    template: TEMPLATE,
  },
};

export const TEMPLATE_OPS: Op[] = [
  {
    method: 'post',
    path: '/template/session',
    tag: 'templates',
    summary: 'Store session templates; answers [{id, user}] in payload order',
    body: TEMPLATE_BODY,
    response: ok('Created', {
      type: 'array',
      items: { type: 'object', properties: { id: str, user: str } },
    }),
  },
  {
    method: 'get',
    path: '/template/session',
    tag: 'templates',
    summary: "Your templates; all=true: admins their domain's, superadmins every one",
    params: [q('all', 'true: every template you may see (admins)'), OWNER],
    response: ok('Templates', { type: 'array', items: LIST_ITEM }),
  },
  {
    method: 'get',
    path: '/template/session/{id}',
    tag: 'templates',
    summary: 'One template; 404 when it is not yours (admins: not of your domain)',
    params: [TEMPLATE_ID, q('format', 'json (default) or yaml (the same document as YAML text)'), OWNER],
    response: ok('Template', {
      type: 'object',
      properties: {
        id: str,
        name: str,
        template: TEMPLATE,
        owner_access_key: str,
        domain_name: str,
        group_name: { type: ['string', 'null'] },
        created_at: str,
      },
    }),
  },
  {
    method: 'put',
    path: '/template/session/{id}',
    tag: 'templates',
    summary: 'Replace a template (the payload holds exactly one)',
    params: [TEMPLATE_ID],
    body: TEMPLATE_BODY,
    response: ok('Replaced', { type: 'object', properties: { success: { const: true } } }),
  },
  {
    method: 'delete',
    path: '/template/session/{id}',
    tag: 'templates',
    summary: 'Delete (deactivate) a template',
    params: [TEMPLATE_ID, OWNER],
    response: ok('Deleted', { type: 'object', properties: { success: { const: true } } }),
  },
  {
    method: 'post',
    path: '/session/_/create-from-template',
    tag: 'templates',
    summary: 'Create a session from a template, the request fields over it',
    description:
      "template_id plus any field of POST /session. A top-level field given (not null) replaces the template's; a config field named replaces the template's whole (mounts with mount_map; environ; resources; resource_opts; scaling_group), and null or an empty value drops it (the CLI's --no-mount, --no-env, --no-resource). Then the same checks and answer as POST /session.",
    body: {
      type: 'object',
      required: ['template_id'],
      properties: { template_id: str },
      additionalProperties: true,
    },
    response: ok('Created or reused', ref('CreateAnswer')),
    status: '201',
  },
];
