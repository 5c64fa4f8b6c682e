import { list, ok, p, q, ref, type Op } from './common.js';

/** OpenAPI operations of the tags keypairs and tokens. */
export const KEYPAIR_OPS: Op[] = [
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
    summary: 'Activate/deactivate, change role, policy, rate limit or bootstrap script (effective at once)',
    params: [p('accessKey', 'Access key')],
    body: {
      type: 'object',
      properties: {
        is_active: { type: 'boolean' },
        role: { enum: ['user', 'admin', 'superadmin'] },
        resource_policy: { type: 'string' },
        rate_limit: { type: ['integer', 'null'] },
        bootstrap_script: { type: ['string', 'null'], description: 'null or "" clears it' },
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
];

export const TOKEN_OPS: Op[] = [
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
];
