import { list, ok, p, q, ref, type Op } from './common.js';

/** OpenAPI operations of the infrastructure tags: images, policies, domains, scaling groups, registries, agents. */
export const IMAGE_RESOLVE_OPS: Op[] = [
  {
    method: 'get',
    path: '/images/resolve',
    tag: 'images',
    summary: 'Resolve an alias or reference as the caller’s domain allows',
    params: [q('ref', 'Alias or image reference')],
    response: ok('Image', ref('Image')),
  },
];

export const POLICY_OPS: Op[] = [
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
];

export const DOMAIN_OPS: Op[] = [
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
];

export const SCALING_GROUP_OPS: Op[] = [
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
    path: '/scaling-groups/{name}/access',
    tag: 'scaling-groups',
    summary: 'Domains and keypairs the scaling group is open to (both empty: everyone; superadmins)',
    params: [p('name', 'Scaling group')],
    response: ok('Access', ref('ScalingGroupAccess')),
  },
  {
    method: 'put',
    path: '/scaling-groups/{name}/domains/{domain}',
    tag: 'scaling-groups',
    summary: 'Open the scaling group to a domain (the first entry restricts it to those listed; superadmins)',
    params: [p('name', 'Scaling group'), p('domain', 'Domain')],
    response: ok('Access', ref('ScalingGroupAccess')),
  },
  {
    method: 'delete',
    path: '/scaling-groups/{name}/domains/{domain}',
    tag: 'scaling-groups',
    summary: 'Remove a domain from the scaling group (superadmins)',
    params: [p('name', 'Scaling group'), p('domain', 'Domain')],
    response: ok('Access', ref('ScalingGroupAccess')),
  },
  {
    method: 'put',
    path: '/scaling-groups/{name}/keypairs/{accessKey}',
    tag: 'scaling-groups',
    summary:
      'Open the scaling group to a keypair (the first entry restricts it to those listed; superadmins)',
    params: [p('name', 'Scaling group'), p('accessKey', 'Access key')],
    response: ok('Access', ref('ScalingGroupAccess')),
  },
  {
    method: 'delete',
    path: '/scaling-groups/{name}/keypairs/{accessKey}',
    tag: 'scaling-groups',
    summary: 'Remove a keypair from the scaling group (superadmins)',
    params: [p('name', 'Scaling group'), p('accessKey', 'Access key')],
    response: ok('Access', ref('ScalingGroupAccess')),
  },
];

export const REGISTRY_OPS: Op[] = [
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
];

export const IMAGE_OPS: Op[] = [
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
];

export const AGENT_OPS: Op[] = [
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
