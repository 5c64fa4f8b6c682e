import test from 'ava';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { call, makeKeypair, runJob, slugOf, type TestKeypair } from '../helpers/api.js';
import { bai } from '../helpers/cli.js';
import { batch, startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * Tenants cannot reach each other's storage: a folder belongs to a keypair, another keypair
 * cannot list, read or mount it (404, as for a folder that does not exist) until the owner
 * shares it, and a read-only share cannot be written. Jobs run as an unprivileged user that
 * owns what it writes; names and tags with control characters are refused.
 */

let stack: TestStack;
let a: TestKeypair;
let b: TestKeypair;
let root: string;

test.before(async () => {
  stack = await startTestStack({ agents: 1 });
  a = await makeKeypair(stack);
  b = await makeKeypair(stack);
  root = stack.agentConfig(1).storageRoot;
});
test.after.always(async () => {
  await stack?.close();
});

/** Runs a batch job as `kp`, with `mounts`, to its end; its exit code and logs. */
const runWithMounts = (kp: TestKeypair, command: string, mounts: string[]) => runJob(kp, command, { mounts });

test.serial(
  "keypair B cannot list, read or mount A's folder until A shares it read-only, and cannot write it then",
  async (t) => {
    const made = await call<{ name: string; storage_path: string; access: string }>(
      a.client,
      'POST',
      '/folders',
      {
        name: 'vault',
      },
    );
    t.is(made.status, 201, JSON.stringify(made.body));
    t.is(made.body.storage_path, `${a.accessKey}/vault`);
    t.is(made.body.access, 'owner');
    t.is((await call(a.client, 'POST', '/folders', { name: 'vault' })).status, 409);
    const wrote = await runWithMounts(a, 'echo secret-of-a > /home/work/vault/secret.txt', ['vault']);
    t.is(wrote.exitCode, 0, wrote.logs);
    const hostFile = join(root, a.accessKey, 'vault', 'secret.txt');
    t.is(readFileSync(hostFile, 'utf8'), 'secret-of-a\n');

    // B sees nothing of it: not in the list, not by name, not as a mount — the same 404 as a
    // folder that does not exist, and no session is made.
    const listed = await call<{ items: { name: string }[] }>(b.client, 'GET', '/folders');
    t.deepEqual(listed.body.items, []);
    const read = await call(b.client, 'GET', '/folders/vault');
    const unknown = await call(b.client, 'GET', '/folders/no-such-folder');
    t.is(read.status, 404);
    t.is(slugOf(read), 'object-not-found');
    t.deepEqual(
      { ...(read.body as object), msg: '' },
      { ...(unknown.body as object), msg: '' },
      'an invisible folder answers like a missing one',
    );
    for (const mounts of [['vault'], ['vault:ro']]) {
      const m = await call(
        b.client,
        'POST',
        '/session',
        batch('cat /home/work/vault/secret.txt', { config: { mounts } }),
      );
      t.is(m.status, 404, JSON.stringify(m.body));
      t.is(slugOf(m), 'object-not-found');
    }
    const mUnknown = await call(
      b.client,
      'POST',
      '/session',
      batch('true', { config: { mounts: ['no-such-folder'] } }),
    );
    t.is(mUnknown.status, 404);
    t.is((await call(b.client, 'DELETE', '/folders/vault')).status, 404);
    t.is((await call(b.client, 'POST', '/folders/vault/share', { access_key: b.accessKey })).status, 404);
    t.is(
      Number((await stack.database.db('sessions').where({ access_key: b.accessKey }).count('* as n'))[0]!.n),
      0,
    );

    // B's own "vault" is another folder, in B's namespace.
    t.is((await call(b.client, 'POST', '/folders', { name: 'vault' })).status, 201);
    const own = await runWithMounts(b, 'test ! -e /home/work/vault/secret.txt && echo empty', ['vault']);
    t.is(own.exitCode, 0, own.logs);
    t.is((await call(b.client, 'DELETE', '/folders/vault')).status, 200);

    // Shared read-only: B lists, reads and mounts it, read-only.
    const shared = await call<{ shares: { access_key: string; permission: string }[] }>(
      a.client,
      'POST',
      '/folders/vault/share',
      { access_key: b.accessKey, permission: 'ro' },
    );
    t.is(shared.status, 200, JSON.stringify(shared.body));
    t.deepEqual(
      shared.body.shares.map((s) => [s.access_key, s.permission]),
      [[b.accessKey, 'ro']],
    );
    const seen = await call<{ items: { name: string; access: string; owner_access_key: string }[] }>(
      b.client,
      'GET',
      '/folders',
    );
    t.deepEqual(
      seen.body.items.map((f) => [f.name, f.access, f.owner_access_key]),
      [['vault', 'ro', a.accessKey]],
    );
    t.is((await call(b.client, 'GET', '/folders/vault')).status, 200);
    const readIt = await runWithMounts(b, 'cat /home/work/vault/secret.txt', ['vault']);
    t.is(readIt.exitCode, 0, readIt.logs);
    t.true(readIt.logs.includes('secret-of-a'), readIt.logs);
    const writeIt = await runWithMounts(b, 'echo overwritten-by-b > /home/work/vault/secret.txt', ['vault']);
    t.not(writeIt.exitCode, 0, 'a read-only mount cannot be written');
    t.regex(writeIt.logs, /Read-only file system/i);
    const asked = await call(
      b.client,
      'POST',
      '/session',
      batch('true', { config: { mounts: ['vault:rw'] } }),
    );
    t.is(asked.status, 403, JSON.stringify(asked.body));
    t.is(slugOf(asked), 'insufficient-privilege');
    t.is(readFileSync(hostFile, 'utf8'), 'secret-of-a\n', 'the owner data is untouched');

    // Sharing ends: B is back to 404.
    t.is((await call(a.client, 'DELETE', `/folders/vault/share/${b.accessKey}`)).status, 200);
    t.is((await call(b.client, 'GET', '/folders/vault')).status, 404);
    const after = await call(b.client, 'POST', '/session', batch('true', { config: { mounts: ['vault'] } }));
    t.is(after.status, 404);
  },
);

test.serial("a group's folder is used read-write by its members, and by no one else", async (t) => {
  const refused = await call(a.client, 'POST', '/folders', { name: 'team-data', group: 'team' });
  t.is(refused.status, 403, 'users do not create group folders');
  const made = await call<{ storage_path: string; group_name: string; owner_access_key: string | null }>(
    stack.client,
    'POST',
    '/folders',
    { name: 'team-data', group: 'team' },
  );
  t.is(made.status, 201, JSON.stringify(made.body));
  t.is(made.body.group_name, 'team');
  t.is(made.body.owner_access_key, null);
  t.regex(made.body.storage_path, /^g-[0-9a-f]{24}\/team-data$/);
  t.is((await call(b.client, 'PUT', `/groups/team/members/${b.accessKey}`)).status, 403, 'no self-enrolment');

  const member = await call<{ items: { access_key: string }[] }>(
    stack.client,
    'PUT',
    `/groups/team/members/${a.accessKey}`,
  );
  t.is(member.status, 200, JSON.stringify(member.body));
  t.deepEqual(
    member.body.items.map((m) => m.access_key),
    [a.accessKey],
  );
  const wrote = await runWithMounts(a, 'echo from-a > /home/work/team-data/note', ['team-data']);
  t.is(wrote.exitCode, 0, wrote.logs);
  t.is(readFileSync(join(root, made.body.storage_path, 'note'), 'utf8'), 'from-a\n');

  // B is not a member: the group's folder does not exist for B.
  t.is((await call(b.client, 'GET', '/folders/team-data')).status, 404);
  const denied = await call(
    b.client,
    'POST',
    '/session',
    batch('true', { config: { mounts: ['team-data'] } }),
  );
  t.is(denied.status, 404);
  t.is(slugOf(denied), 'object-not-found');

  t.is((await call(stack.client, 'PUT', `/groups/team/members/${b.accessKey}`)).status, 200);
  const listed = await call<{ items: { name: string; access: string; group_name: string | null }[] }>(
    b.client,
    'GET',
    '/folders',
  );
  t.true(
    listed.body.items.some((f) => f.name === 'team-data' && f.access === 'rw' && f.group_name === 'team'),
  );
  const readIt = await runWithMounts(
    b,
    'cat /home/work/team-data/note && echo from-b >> /home/work/team-data/note',
    ['team-data'],
  );
  t.is(readIt.exitCode, 0, readIt.logs);
  t.true(readIt.logs.includes('from-a'));
  t.is(readFileSync(join(root, made.body.storage_path, 'note'), 'utf8'), 'from-a\nfrom-b\n');

  t.is((await call(stack.client, 'DELETE', `/groups/team/members/${b.accessKey}`)).status, 200);
  t.is((await call(b.client, 'GET', '/folders/team-data')).status, 404);
  t.is((await call(a.client, 'DELETE', '/folders/team-data', undefined, { group: 'team' })).status, 403);
  t.is((await call(stack.client, 'DELETE', '/folders/team-data', undefined, { group: 'team' })).status, 200);
  t.is((await call(a.client, 'GET', '/folders/team-data')).status, 404);
});

test.serial(
  'a job runs as an unprivileged user, with a writable HOME, and writes its folder as that user',
  async (t) => {
    t.is((await call(a.client, 'POST', '/folders', { name: 'outputs' })).status, 201);
    const r = await runWithMounts(
      a,
      'id -u; id -g; cd "$HOME" && touch home-is-writable && touch /home/work/outputs/made-by-job && ' +
        "python3 -c \"import os; open('/home/work/outputs/py.txt', 'w').write(str(os.getuid()))\"",
      ['outputs'],
    );
    t.is(r.exitCode, 0, r.logs);
    const [uid, gid] = r.logs.trim().split('\n');
    t.not(uid, '0');
    t.is(uid, '1000');
    t.is(gid, '1000');
    const made = statSync(join(root, a.accessKey, 'outputs', 'made-by-job'));
    t.is(made.uid, 1000);
    t.is(made.gid, 1000);
    t.is(readFileSync(join(root, a.accessKey, 'outputs', 'py.txt'), 'utf8'), '1000');
    // A job cannot become root again: no setuid, no-new-privileges.
    const su = await runWithMounts(a, 'touch /etc/owned-by-job', []);
    t.not(su.exitCode, 0, su.logs);
  },
);

test.serial('a control character in a tag, a name or a folder name is a 400 naming the field', async (t) => {
  const tag = await call<{ msg: string }>(
    a.client,
    'POST',
    '/session',
    batch('true', { tag: 't\r\nX-Evil: 1\u001b[2J' }),
  );
  t.is(tag.status, 400);
  t.is(slugOf(tag), 'generic-bad-request');
  t.regex(tag.body.msg, /^tag must not contain control characters/);
  for (const [field, body] of [
    ['tag', batch('true', { tag: 'bidi\u202eevil' })],
    ['tag', batch('true', { tag: 'csi\u009b2J' })],
    ['config.environ.K', batch('true', { config: { environ: { K: 'a\u001b[31m' } } })],
    ['group', batch('true', { group: 'g\u0007' })],
  ] as const) {
    const r = await call<{ msg: string }>(a.client, 'POST', '/session', body);
    t.is(r.status, 400, field);
    t.true(r.body.msg.startsWith(`${field} must not contain control characters`), r.body.msg);
  }
  const folder = await call<{ msg: string }>(a.client, 'POST', '/folders', { name: 'x\u001b[2J' });
  t.is(folder.status, 400);
  t.regex(folder.body.msg, /^name must not contain control characters/);
  const token = await call<{ msg: string }>(a.client, 'POST', '/tokens', { name: 'ci\r\nX: 1' });
  t.is(token.status, 400);
  t.regex(token.body.msg, /^name must not contain control characters/);
  // Text that is merely not ASCII is fine.
  const fine = await call(a.client, 'POST', '/session', batch('true', { tag: 'nächtlich 名前 😀' }));
  t.is(fine.status, 201, JSON.stringify(fine.body));
});

test.serial('bai folder create, list, share and rm', async (t) => {
  const env = { BACKEND_ACCESS_KEY: a.accessKey, BACKEND_SECRET_KEY: a.secretKey };
  const c = await bai(stack, ['folder', 'create', 'cli-box', '--json'], { env });
  t.is(c.code, 0, c.stderr);
  t.is((JSON.parse(c.stdout) as { name: string }).name, 'cli-box');
  const s = await bai(stack, ['folder', 'share', 'cli-box', b.accessKey, '-p', 'rw'], { env });
  t.is(s.code, 0, s.stderr);
  const l = await bai(stack, ['folder', 'list', '--json'], {
    env: { BACKEND_ACCESS_KEY: b.accessKey, BACKEND_SECRET_KEY: b.secretKey },
  });
  t.is(l.code, 0, l.stderr);
  t.deepEqual(
    (JSON.parse(l.stdout) as { name: string; access: string }[]).map((f) => [f.name, f.access]),
    [['cli-box', 'rw']],
  );
  const bad = await bai(stack, ['folder', 'share', 'cli-box', b.accessKey, '-p', 'rwx'], { env });
  t.not(bad.code, 0);
  const gone = await bai(stack, ['folder', 'rm', 'cli-box'], { env });
  t.is(gone.code, 0, gone.stderr);
  const notMine = await bai(stack, ['folder', 'rm', 'vault'], {
    env: { BACKEND_ACCESS_KEY: b.accessKey, BACKEND_SECRET_KEY: b.secretKey },
  });
  t.not(notMine.code, 0);
  t.regex(notMine.stderr, /No storage folder "vault"/);
});
