import { SERVER_API_VERSION } from '../domain/api-version.js';

/**
 * The OpenAPI 3.1 document of the manager's API, served unauthenticated at GET /openapi.json
 * and written to docs/openapi.json by `node dist/scripts/openapi.js`. A test checks that every
 * route the app registers is described here, so the two cannot drift apart.
 */
type Json = Record<string, unknown>;

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Json): Json => ({ 'application/json': { schema } });
const problem = (description: string): Json => ({
  description,
  content: { 'application/problem+json': { schema: ref('Problem') } },
});
const ok = (description: string, schema: Json = { type: 'object' }): Json => ({
  description,
  content: json(schema),
});
const list = (item: string): Json => ({
  type: 'object',
  properties: { items: { type: 'array', items: ref(item) } },
});

const ERROR_RESPONSES: Json = {
  '400': problem('generic-bad-request, invalid-auth-params, quota-exceeded, session-already-exists'),
  '401': problem('auth-failed: bad signature, unknown/inactive key, revoked token, date skew'),
  '403': problem('generic-forbidden or insufficient-privilege'),
  '404': problem('object-not-found or too-many-sessions-matched'),
  '413': problem('payload-too-large'),
  '429': problem('too-many-requests (see X-RateLimit-* headers)'),
  '503': problem('database-unavailable or service-unavailable: temporary, repeat after Retry-After'),
};
const ERRORS: Json = Object.fromEntries(
  Object.keys(ERROR_RESPONSES).map((code) => [code, { $ref: `#/components/responses/E${code}` }]),
);

interface Op {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  path: string;
  tag: string;
  summary: string;
  description?: string;
  params?: Json[];
  body?: Json;
  response: Json;
  status?: string;
  public?: boolean;
}

const q = (name: string, description: string, schema: Json = { type: 'string' }): Json => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});
const p = (name: string, description: string): Json => ({
  name,
  in: 'path',
  required: true,
  description,
  schema: { type: 'string' },
});
const SESSION_REF = p('ref', 'Session name (newest of that name), id, or unique id prefix');
const OWNER = q('owner_access_key', 'Admins: act on a session of this keypair');
const FOLDER_NAME = p('name', 'Folder name (yours, else one shared with you)');

const OPS: Op[] = [
  {
    method: 'get',
    path: '/',
    tag: 'meta',
    summary: 'API version negotiation (unauthenticated)',
    response: ok('Versions', ref('Version')),
    public: true,
  },
  {
    method: 'get',
    path: '/openapi.json',
    tag: 'meta',
    summary: 'This document (unauthenticated)',
    response: ok('OpenAPI 3.1'),
    public: true,
  },
  {
    method: 'post',
    path: '/session',
    tag: 'sessions',
    summary: 'Create a session, or get the live one of that name',
    description:
      'Both spellings (camelCase and snake_case) of every field are accepted. With enqueueOnly false the answer waits up to maxWaitSeconds for RUNNING (status TIMEOUT when it expires; a batch session that already ended answers its final status).',
    body: ref('CreateSession'),
    response: ok('Created (created: true) or reused (created: false)', ref('CreateAnswer')),
    status: '201',
  },
  {
    method: 'post',
    path: '/session/_/create',
    tag: 'sessions',
    summary: 'Create a session (older route of the same)',
    body: ref('CreateSession'),
    response: ok('Created or reused', ref('CreateAnswer')),
    status: '201',
  },
  {
    method: 'get',
    path: '/session/{ref}',
    tag: 'sessions',
    summary: 'Session info',
    params: [SESSION_REF, OWNER],
    response: ok('Session', ref('SessionInfo')),
  },
  {
    method: 'delete',
    path: '/session/{ref}',
    tag: 'sessions',
    summary: 'Cancel (PENDING) or terminate a session',
    params: [SESSION_REF, OWNER, q('forced', 'true: force-terminated', { type: 'boolean' })],
    response: ok('Stats and the new status'),
  },
  {
    method: 'get',
    path: '/session/{ref}/logs',
    tag: 'sessions',
    summary: 'Container logs (so far, while it runs)',
    params: [
      SESSION_REF,
      OWNER,
      q('kernel_id', 'A kernel other than the main one'),
      q(
        'after',
        'bai extension: only the output copied after this cursor ("0" for the start), with the next cursor; `more` says another page waits, `ended` that the kernel has ended',
      ),
    ],
    response: ok('Logs', {
      type: 'object',
      properties: {
        result: {
          type: 'object',
          properties: {
            logs: {
              type: 'string',
              description:
                'the output; a truncated one keeps its tail and opens with the line `[bai: output truncated, last N bytes follow]`',
            },
            truncated: { type: 'boolean', description: 'without `after`: only the tail is kept' },
            totalBytes: {
              type: ['integer', 'null'],
              description: 'without `after`: bytes of the whole output, as the agent counted them',
            },
            cursor: { type: 'string', description: 'with `after` only' },
            more: { type: 'boolean', description: 'with `after` only' },
            ended: { type: 'boolean', description: 'with `after` only' },
            offset: {
              type: 'integer',
              description: 'with `after` only: bytes of the whole output before `logs`',
            },
            gap: {
              type: 'boolean',
              description: 'with `after` only: an unknown part of the output was skipped before `logs`',
            },
          },
        },
      },
    }),
  },
  {
    method: 'get',
    path: '/session/{ref}/callbacks',
    tag: 'sessions',
    summary: 'bai extension: the callback_url deliveries and their outcome',
    description:
      'One entry per lifecycle event sent to callback_url: `delivered`, `pending` (retrying), `refused` (the address is inside the network and not on the operator allow-list; never contacted), `redirected` (a 3xx answer; redirects are never followed) or `failed` (given up after retries).',
    params: [SESSION_REF, OWNER],
    response: ok('Deliveries', list('CallbackDelivery')),
  },
  {
    method: 'get',
    path: '/session/{ref}/status-history',
    tag: 'sessions',
    summary: 'Status → time it was entered',
    params: [SESSION_REF, OWNER],
    response: ok('History', {
      type: 'object',
      properties: { result: { type: 'object', additionalProperties: { type: 'string' } } },
    }),
  },
  {
    method: 'get',
    path: '/sessions',
    tag: 'sessions',
    summary: 'List sessions with filters, pagination and sorting',
    params: [
      q('status', 'Comma-separated statuses'),
      q('type', 'batch or interactive'),
      q('tag', 'Exact tag'),
      q('name', 'Exact name'),
      q('scaling_group', 'Scaling group'),
      q('created_after', 'ISO-8601 time'),
      q('created_before', 'ISO-8601 time'),
      q('owner_access_key', 'Admins: another keypair'),
      q('all', 'Admins: every keypair (of the domain; superadmins: all)', { type: 'boolean' }),
      q('limit', '1..1000, default 50', { type: 'integer' }),
      q('offset', 'default 0', { type: 'integer' }),
      q('order', 'created_at, name, status, priority, terminated_at; prefix - for descending'),
    ],
    response: ok('A page', {
      type: 'object',
      properties: {
        items: { type: 'array', items: ref('SessionSummary') },
        total: { type: 'integer' },
        limit: { type: 'integer' },
        offset: { type: 'integer' },
      },
    }),
  },
  {
    method: 'get',
    path: '/events/session',
    tag: 'sessions',
    summary: 'Server-sent lifecycle events',
    description:
      'One event per transition: `id: <event id>`, `event: session_enqueued|…|session_terminated|session_success|session_failure|kernel_*`, `data: {reason, sessionName, ownerAccessKey, sessionId, exitCode}`. Resume with the Last-Event-ID header (or lastEventId query).',
    params: [
      q('sessionName', 'Follow this session (or * for all of the keypair)'),
      q('sessionId', 'Follow this session by id'),
      q('ownerAccessKey', 'Admins: another keypair'),
      q('scope', 'session, kernel or *'),
      q('lastEventId', 'Same as the Last-Event-ID header'),
    ],
    response: {
      description: 'text/event-stream',
      content: { 'text/event-stream': { schema: { type: 'string' } } },
    },
  },
  {
    method: 'get',
    path: '/images/resolve',
    tag: 'images',
    summary: 'Resolve an alias or reference as the caller’s domain allows',
    params: [q('ref', 'Alias or image reference')],
    response: ok('Image', ref('Image')),
  },
  {
    method: 'get',
    path: '/keypairs/me',
    tag: 'keypairs',
    summary: 'The caller’s keypair, with its webhook secret (to verify X-Bai-Signature)',
    response: ok('Keypair', ref('Keypair')),
  },
  {
    method: 'post',
    path: '/keypairs/me/webhook-secret',
    tag: 'keypairs',
    summary: 'Rotate the caller’s webhook secret',
    response: ok('New secret', { type: 'object', properties: { webhook_secret: { type: 'string' } } }),
  },
  {
    method: 'get',
    path: '/keypairs',
    tag: 'keypairs',
    summary: 'List keypairs (admins: own domain; superadmins: all)',
    params: [q('domain', 'Superadmins: one domain'), q('is_active', 'true or false', { type: 'boolean' })],
    response: ok('Keypairs', list('Keypair')),
  },
  {
    method: 'post',
    path: '/keypairs',
    tag: 'keypairs',
    summary: 'Create a keypair; the answer is the only time the secret key is shown',
    body: ref('NewKeypair'),
    response: ok('Keypair with secret_key and webhook_secret', ref('Keypair')),
    status: '201',
  },
  {
    method: 'get',
    path: '/keypairs/{accessKey}',
    tag: 'keypairs',
    summary: 'One keypair',
    params: [p('accessKey', 'Access key')],
    response: ok('Keypair', ref('Keypair')),
  },
  {
    method: 'patch',
    path: '/keypairs/{accessKey}',
    tag: 'keypairs',
    summary: 'Activate/deactivate, change role, policy or rate limit (effective at once)',
    params: [p('accessKey', 'Access key')],
    body: {
      type: 'object',
      properties: {
        is_active: { type: 'boolean' },
        role: { enum: ['user', 'admin', 'superadmin'] },
        resource_policy: { type: 'string' },
        rate_limit: { type: ['integer', 'null'] },
      },
    },
    response: ok('Keypair', ref('Keypair')),
  },
  {
    method: 'delete',
    path: '/keypairs/{accessKey}',
    tag: 'keypairs',
    summary: 'Delete a keypair that never owned a session (409 otherwise: deactivate it)',
    params: [p('accessKey', 'Access key')],
    response: ok('Deleted'),
  },
  {
    method: 'get',
    path: '/tokens',
    tag: 'tokens',
    summary: 'List bearer tokens (own; admins: access_key= or all=true)',
    params: [
      q('access_key', 'A keypair the caller manages'),
      q('all', 'Admins: every keypair they manage', { type: 'boolean' }),
      q('include_revoked', 'Also revoked ones', { type: 'boolean' }),
    ],
    response: ok('Tokens', list('Token')),
  },
  {
    method: 'post',
    path: '/tokens',
    tag: 'tokens',
    summary: 'Create a bearer token; the answer is the only time it is shown (stored hashed)',
    body: {
      type: 'object',
      properties: { name: { type: 'string' }, access_key: { type: 'string' } },
    },
    response: ok('Token with `token`', ref('Token')),
    status: '201',
  },
  {
    method: 'delete',
    path: '/tokens/{id}',
    tag: 'tokens',
    summary: 'Revoke a token (401 from then on)',
    params: [p('id', 'Token id')],
    response: ok('Revoked token', ref('Token')),
  },
  {
    method: 'get',
    path: '/folders',
    tag: 'folders',
    summary: "Storage folders (Backend.AI's vfolders): yours, then those shared with you",
    params: [q('owner_access_key', 'Admins: the folders of a keypair of their domain')],
    response: ok('Folders', list('Folder')),
  },
  {
    method: 'post',
    path: '/folders',
    tag: 'folders',
    summary: 'Create a storage folder owned by the caller (409 when the name exists)',
    body: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string', pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$' },
        owner_access_key: { type: 'string', description: 'Admins: create it for this keypair' },
        group: { type: 'string', description: "Admins: create it as this group's folder instead" },
        domain: { type: 'string', description: "Superadmins: the group's domain (default: their own)" },
      },
    },
    response: ok('Folder', ref('Folder')),
    status: '201',
  },
  {
    method: 'get',
    path: '/folders/{name}',
    tag: 'folders',
    summary: 'One folder; 404 when the caller neither owns it nor was invited to it',
    params: [FOLDER_NAME, q('owner_access_key', 'Admins: as this keypair')],
    response: ok('Folder', ref('Folder')),
  },
  {
    method: 'delete',
    path: '/folders/{name}',
    tag: 'folders',
    summary: 'Delete a folder the caller owns (its shares go; files stay on the agents)',
    params: [
      FOLDER_NAME,
      q('owner_access_key', 'Admins: as this keypair'),
      q('group', "Admins: delete this group's folder"),
      q('domain', "Superadmins: the group's domain"),
    ],
    response: ok('Deleted'),
  },
  {
    method: 'post',
    path: '/folders/{name}/share',
    tag: 'folders',
    summary: 'Invite another keypair of the domain, ro (default) or rw; again to change it',
    params: [FOLDER_NAME, q('owner_access_key', 'Admins: as this keypair')],
    body: {
      type: 'object',
      required: ['access_key'],
      properties: { access_key: { type: 'string' }, permission: { enum: ['ro', 'rw'] } },
    },
    response: ok('Folder with its shares', ref('Folder')),
  },
  {
    method: 'delete',
    path: '/folders/{name}/share/{accessKey}',
    tag: 'folders',
    summary: 'Stop sharing with a keypair',
    params: [
      FOLDER_NAME,
      p('accessKey', 'The invited keypair'),
      q('owner_access_key', 'Admins: as this keypair'),
    ],
    response: ok('Folder with its shares', ref('Folder')),
  },
  {
    method: 'get',
    path: '/groups/{group}/members',
    tag: 'folders',
    summary: "Members of a group of the admin's domain (they use its folders read-write)",
    params: [p('group', 'Group name'), q('domain', "Superadmins: the group's domain (default: their own)")],
    response: ok('Members', list('GroupMember')),
  },
  {
    method: 'put',
    path: '/groups/{group}/members/{accessKey}',
    tag: 'folders',
    summary: 'Add a keypair of the domain to a group (admins)',
    params: [
      p('group', 'Group name'),
      p('accessKey', 'The keypair'),
      q('domain', "Superadmins: the group's domain"),
    ],
    response: ok('Members', list('GroupMember')),
  },
  {
    method: 'delete',
    path: '/groups/{group}/members/{accessKey}',
    tag: 'folders',
    summary: 'Remove a keypair from a group (admins)',
    params: [
      p('group', 'Group name'),
      p('accessKey', 'The keypair'),
      q('domain', "Superadmins: the group's domain"),
    ],
    response: ok('Members', list('GroupMember')),
  },
  {
    method: 'get',
    path: '/resource-policies',
    tag: 'policies',
    summary: 'List keypair resource policies (admins)',
    response: ok('Policies', list('ResourcePolicy')),
  },
  {
    method: 'post',
    path: '/resource-policies',
    tag: 'policies',
    summary: 'Create a resource policy (superadmins)',
    body: ref('ResourcePolicy'),
    response: ok('Policy', ref('ResourcePolicy')),
    status: '201',
  },
  {
    method: 'patch',
    path: '/resource-policies/{name}',
    tag: 'policies',
    summary: 'Change a resource policy (superadmins)',
    params: [p('name', 'Policy name')],
    body: ref('ResourcePolicy'),
    response: ok('Policy', ref('ResourcePolicy')),
  },
  {
    method: 'delete',
    path: '/resource-policies/{name}',
    tag: 'policies',
    summary: 'Delete an unused resource policy (superadmins)',
    params: [p('name', 'Policy name')],
    response: ok('Deleted'),
  },
  {
    method: 'get',
    path: '/domains',
    tag: 'domains',
    summary: 'List domains (admins: their own)',
    response: ok('Domains', list('Domain')),
  },
  {
    method: 'post',
    path: '/domains',
    tag: 'domains',
    summary: 'Create a domain (superadmins)',
    body: ref('Domain'),
    response: ok('Domain', ref('Domain')),
    status: '201',
  },
  {
    method: 'get',
    path: '/domains/{name}',
    tag: 'domains',
    summary: 'One domain',
    params: [p('name', 'Domain name')],
    response: ok('Domain', ref('Domain')),
  },
  {
    method: 'patch',
    path: '/domains/{name}',
    tag: 'domains',
    summary: 'Set allowed registries, allowed storage, activity (superadmins)',
    params: [p('name', 'Domain name')],
    body: ref('Domain'),
    response: ok('Domain', ref('Domain')),
  },
  {
    method: 'get',
    path: '/scaling-groups',
    tag: 'scaling-groups',
    summary: 'List scaling groups',
    response: ok('Scaling groups', list('ScalingGroup')),
  },
  {
    method: 'post',
    path: '/scaling-groups',
    tag: 'scaling-groups',
    summary: 'Create a scaling group (superadmins)',
    body: ref('ScalingGroup'),
    response: ok('Scaling group', ref('ScalingGroup')),
    status: '201',
  },
  {
    method: 'patch',
    path: '/scaling-groups/{name}',
    tag: 'scaling-groups',
    summary: 'Change a scaling group (superadmins)',
    params: [p('name', 'Scaling group')],
    body: ref('ScalingGroup'),
    response: ok('Scaling group', ref('ScalingGroup')),
  },
  {
    method: 'delete',
    path: '/scaling-groups/{name}',
    tag: 'scaling-groups',
    summary: 'Delete an unused scaling group (superadmins)',
    params: [p('name', 'Scaling group')],
    response: ok('Deleted'),
  },
  {
    method: 'get',
    path: '/registries',
    tag: 'registries',
    summary: 'List container registries (admins); credentials are never returned',
    response: ok('Registries', list('Registry')),
  },
  {
    method: 'post',
    path: '/registries',
    tag: 'registries',
    summary: 'Add or change a registry (superadmins); username/password are write-only',
    body: {
      type: 'object',
      required: ['hostname'],
      properties: {
        hostname: { type: 'string' },
        url: { type: 'string' },
        username: { type: ['string', 'null'], writeOnly: true },
        password: { type: ['string', 'null'], writeOnly: true },
      },
    },
    response: ok('Registry', ref('Registry')),
    status: '201',
  },
  {
    method: 'delete',
    path: '/registries/{hostname}',
    tag: 'registries',
    summary: 'Remove a registry (superadmins)',
    params: [p('hostname', 'Registry host')],
    response: ok('Deleted'),
  },
  {
    method: 'get',
    path: '/images',
    tag: 'images',
    summary: 'List images with their aliases',
    response: ok('Images', list('Image')),
  },
  {
    method: 'post',
    path: '/images',
    tag: 'images',
    summary: 'Register an image (superadmins); labels carry slot minimum/maximum',
    body: {
      type: 'object',
      required: ['name'],
      properties: {
        name: { type: 'string' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    response: ok('Image', ref('Image')),
    status: '201',
  },
  {
    method: 'delete',
    path: '/images/{name}',
    tag: 'images',
    summary: 'Remove an image and its aliases (superadmins); the name URL-encoded',
    params: [p('name', 'Canonical reference')],
    response: ok('Deleted'),
  },
  {
    method: 'get',
    path: '/image-aliases',
    tag: 'images',
    summary: 'List aliases',
    response: ok('Aliases', list('Alias')),
  },
  {
    method: 'put',
    path: '/image-aliases/{alias}',
    tag: 'images',
    summary: 'Point an alias at a registered image (superadmins)',
    params: [p('alias', 'Alias')],
    body: { type: 'object', required: ['image'], properties: { image: { type: 'string' } } },
    response: ok('Alias', ref('Alias')),
  },
  {
    method: 'delete',
    path: '/image-aliases/{alias}',
    tag: 'images',
    summary: 'Remove an alias (superadmins)',
    params: [p('alias', 'Alias')],
    response: ok('Deleted'),
  },
  {
    method: 'get',
    path: '/agents',
    tag: 'agents',
    summary: 'List agents with capacity and occupancy (admins)',
    params: [q('scaling_group', 'Scaling group'), q('status', 'ALIVE, LOST or TERMINATED')],
    response: ok('Agents', list('Agent')),
  },
  {
    method: 'patch',
    path: '/agents/{id}',
    tag: 'agents',
    summary: 'Schedulable on/off: off drains the agent (superadmins)',
    params: [p('id', 'Agent id')],
    body: { type: 'object', required: ['schedulable'], properties: { schedulable: { type: 'boolean' } } },
    response: ok('Agent', ref('Agent')),
  },
];

const str = { type: 'string' };
const strOrNull = { type: ['string', 'null'] };
const slots = { type: 'object', additionalProperties: { type: 'number' } };

const SCHEMAS: Json = {
  Problem: {
    type: 'object',
    required: ['type', 'title'],
    properties: {
      type: { type: 'string', description: 'https://api.backend.ai/probs/<slug>' },
      title: str,
      msg: str,
      data: {},
    },
  },
  Version: {
    type: 'object',
    properties: { version: { type: 'string', pattern: '^v\\d+\\.\\d{8}$' }, manager: str },
  },
  CreateSession: {
    type: 'object',
    description: 'Every field also in its other spelling (snake_case / camelCase).',
    required: ['image'],
    properties: {
      name: { type: 'string', pattern: '^\\w[\\w.-]*\\w$', minLength: 4, maxLength: 64 },
      image: str,
      type: { enum: ['batch', 'interactive'] },
      group: str,
      domain: str,
      owner_access_key: strOrNull,
      enqueueOnly: { type: 'boolean' },
      maxWaitSeconds: { type: 'integer', minimum: 0 },
      reuseIfExists: { type: 'boolean' },
      startupCommand: str,
      starts_at: { type: 'string', description: 'ISO-8601 or relative (10min, 1h30m, +30s)' },
      batch_timeout: { type: ['string', 'number'], description: 'seconds or N(s|m|h|d|w)' },
      dependencies: { type: 'array', items: str },
      callback_url: {
        type: 'string',
        format: 'uri',
        description:
          'checked at each send: addresses inside the network are refused unless the operator allow-lists them (GET /session/{ref}/callbacks)',
      },
      priority: { type: 'integer', minimum: 0, maximum: 100 },
      clusterSize: { type: 'integer', minimum: 1 },
      clusterMode: { enum: ['single-node', 'multi-node'] },
      bootstrap_script: strOrNull,
      tag: { type: ['string', 'null'], description: 'printable text: control characters are a 400' },
      retry: { type: 'object', description: 'bai extension: max_attempts, backoff, delay, on' },
      config: {
        type: 'object',
        properties: {
          mounts: {
            type: 'array',
            items: str,
            description:
              'storage folders the keypair owns or was invited to, as NAME, NAME:ro or NAME:rw; any other name is a 404',
          },
          mount_map: { type: 'object', additionalProperties: str },
          environ: { type: 'object', additionalProperties: str },
          resources: { type: 'object', description: 'cpu, mem (4g, 512m), device slots' },
          resource_opts: { type: 'object', properties: { shmem: str } },
          scalingGroup: str,
        },
      },
    },
  },
  CreateAnswer: {
    type: 'object',
    properties: {
      sessionId: str,
      sessionName: str,
      status: str,
      servicePorts: { type: 'array' },
      created: { type: 'boolean' },
      result: str,
      exitCode: { type: ['integer', 'null'] },
    },
  },
  SessionInfo: {
    type: 'object',
    properties: {
      sessionId: str,
      sessionName: str,
      type: str,
      status: str,
      statusInfo: strOrNull,
      statusData: { type: 'object' },
      statusHistory: { type: 'object' },
      result: { enum: ['UNDEFINED', 'SUCCESS', 'FAILURE'] },
      exitCode: { type: ['integer', 'null'] },
      kernels: { type: 'array', items: { type: 'object' } },
    },
    additionalProperties: true,
  },
  SessionSummary: { type: 'object', additionalProperties: true },
  Keypair: {
    type: 'object',
    properties: {
      access_key: str,
      user_email: str,
      domain_name: str,
      role: { enum: ['user', 'admin', 'superadmin'] },
      is_active: { type: 'boolean' },
      resource_policy: str,
      rate_limit: { type: ['integer', 'null'] },
      created_at: str,
      secret_key: { type: 'string', description: 'only in the answer of POST /keypairs' },
      webhook_secret: { type: 'string', description: 'POST /keypairs and GET /keypairs/me only' },
    },
  },
  NewKeypair: {
    type: 'object',
    required: ['user_email'],
    properties: {
      user_email: str,
      domain_name: str,
      role: { enum: ['user', 'admin', 'superadmin'] },
      resource_policy: str,
      rate_limit: { type: ['integer', 'null'] },
      access_key: str,
      secret_key: str,
    },
  },
  Token: {
    type: 'object',
    properties: {
      id: str,
      access_key: str,
      name: str,
      created_at: str,
      last_used_at: strOrNull,
      revoked_at: strOrNull,
      token: { type: 'string', description: 'only in the answer of POST /tokens' },
    },
  },
  Folder: {
    type: 'object',
    properties: {
      id: str,
      name: str,
      owner_access_key: { type: ['string', 'null'], description: "null for a group's folder" },
      domain_name: str,
      group_name: { type: ['string', 'null'], description: "the owning group; null for a keypair's folder" },
      access: { enum: ['owner', 'ro', 'rw'], description: 'how the caller may use it' },
      storage_path: { type: 'string', description: 'under each agent storage root: <owner>/<name>' },
      created_at: str,
      shares: {
        type: 'array',
        description: 'owner only',
        items: {
          type: 'object',
          properties: { access_key: str, permission: { enum: ['ro', 'rw'] }, created_at: str },
        },
      },
    },
  },
  GroupMember: {
    type: 'object',
    properties: { access_key: str, created_at: str },
  },
  CallbackDelivery: {
    type: 'object',
    properties: {
      id: { type: 'integer' },
      event: str,
      url: str,
      attempts: { type: 'integer' },
      outcome: { enum: ['pending', 'delivered', 'refused', 'redirected', 'failed'] },
      error: strOrNull,
      deliveredAt: strOrNull,
      gaveUpAt: strOrNull,
    },
  },
  ResourcePolicy: {
    type: 'object',
    properties: {
      name: str,
      max_concurrent_sessions: { type: 'integer' },
      max_pending_session_count: { type: ['integer', 'null'] },
      max_priority: { type: 'integer' },
      total_resource_slots: slots,
    },
  },
  Domain: {
    type: 'object',
    properties: {
      name: str,
      allowed_registries: { type: 'array', items: str },
      allowed_storage: { type: 'array', items: str },
      is_active: { type: 'boolean' },
    },
  },
  ScalingGroup: {
    type: 'object',
    properties: {
      name: str,
      description: str,
      is_active: { type: 'boolean' },
      pending_timeout_sec: { type: 'integer' },
    },
  },
  Registry: {
    type: 'object',
    properties: { hostname: str, url: str, has_credentials: { type: 'boolean' }, created_at: str },
  },
  Image: {
    type: 'object',
    properties: {
      name: str,
      registry: str,
      labels: { type: 'object', additionalProperties: str },
      aliases: { type: 'array', items: str },
    },
  },
  Alias: { type: 'object', properties: { alias: str, image: str } },
  Agent: {
    type: 'object',
    properties: {
      id: str,
      scaling_group: str,
      status: str,
      schedulable: { type: 'boolean' },
      available_slots: slots,
      occupied_slots: slots,
      free_slots: slots,
      running_kernels: { type: 'integer' },
      last_heartbeat: str,
    },
  },
};

/** Every (method, OpenAPI path) the document describes, for the route-coverage test. */
export function describedOperations(): { method: string; path: string }[] {
  return OPS.map((o) => ({ method: o.method.toUpperCase(), path: o.path }));
}

export function openApiDocument(managerVersion: string): Json {
  const paths: Record<string, Record<string, Json>> = {};
  for (const o of OPS) {
    const entry: Json = {
      tags: [o.tag],
      summary: o.summary,
      ...(o.description ? { description: o.description } : {}),
      ...(o.params ? { parameters: o.params } : {}),
      ...(o.body ? { requestBody: { required: true, content: json(o.body) } } : {}),
      responses: { [o.status ?? '200']: o.response, ...(o.public ? {} : ERRORS) },
      ...(o.public ? { security: [] } : {}),
    };
    (paths[o.path] ??= {})[o.method] = entry;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'bai manager API',
      version: managerVersion,
      description: `Backend.AI-compatible session API (${SERVER_API_VERSION}) plus REST administration. See docs/api.md.`,
    },
    servers: [{ url: 'http://127.0.0.1:8091' }],
    security: [{ BackendAI: [] }, { Bearer: [] }],
    components: {
      securitySchemes: {
        BackendAI: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description:
            'BackendAI signMethod=HMAC-SHA256, credential=<ACCESS_KEY>:<signature>, with Date and X-BackendAI-Version headers (docs/api.md).',
        },
        Bearer: { type: 'http', scheme: 'bearer', description: 'A token from POST /tokens' },
      },
      schemas: SCHEMAS,
      responses: Object.fromEntries(Object.entries(ERROR_RESPONSES).map(([code, r]) => [`E${code}`, r])),
    },
    paths,
  };
}
