import { FOLDER_NAME, list, ok, p, q, ref, type Op } from './common.js';

/** OpenAPI operations of the tag folders (storage folders, sharing, group members). */
export const FOLDER_OPS: Op[] = [
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
];
