import test from 'ava';
import { call, makeKeypair, slugOf, type TestKeypair } from '../helpers/api.js';
import { bai } from '../helpers/cli.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';
import { archName } from '../../src/domain/session-request.js';

/**
 * Issue 14: what a create request asks is honoured or refused by name, never dropped —
 * architecture, resource_opts keys, fields that mean nothing for bai (null/empty only), group
 * membership, scaling-group access, the keypair's bootstrap script.
 */

let stack: TestStack;
let user: TestKeypair;
const here = archName(process.arch);
const elsewhere = here === 'aarch64' ? 'x86_64' : 'aarch64';

test.before(async () => {
  stack = await startTestStack({ agents: 1 });
  user = await makeKeypair(stack);
});
test.after.always(async () => {
  await stack?.close();
});

/** The problem's message (or the whole body when it has none). */
const msgOf = (b: unknown) => (b as { msg?: string } | null)?.msg ?? JSON.stringify(b);

test('a field bai cannot honour is a 400 naming it; the same field null (or empty) succeeds', async (t) => {
  const cases: { field: string; bad: Record<string, unknown>; empty: Record<string, unknown>[] }[] = [
    {
      field: 'config.preopen_ports',
      bad: { config: { preopen_ports: [8080] } },
      empty: [{ config: { preopen_ports: null } }, { config: { preopen_ports: [] } }],
    },
    {
      field: 'config.agent_list',
      bad: { config: { agentList: ['i-some-agent'] } },
      empty: [{ config: { agentList: null } }, { config: { agentList: [] } }],
    },
    {
      field: 'config.attach_network',
      bad: { config: { attach_network: '9e0c2a4e-7f1d-4a43-9b57-5d6f0a1b2c3d' } },
      empty: [{ config: { attach_network: null } }],
    },
    {
      field: 'resource_opts.ulimit',
      bad: { config: { resource_opts: { ulimit: 1024 } } },
      empty: [{ config: { resource_opts: { ulimit: null } } }, { config: { resource_opts: null } }],
    },
    {
      field: 'architecture',
      bad: { architecture: elsewhere },
      empty: [{ architecture: null }, { architecture: here }, { arch: here }],
    },
  ];
  for (const c of cases) {
    const r = await call(user.client, 'POST', '/session', batch('true', c.bad));
    t.is(r.status, 400, `${c.field}: ${msgOf(r.body)}`);
    t.is(slugOf(r), 'generic-bad-request');
    t.true(msgOf(r.body).includes(c.field === 'architecture' ? `"${elsewhere}"` : c.field), msgOf(r.body));
    for (const ok of c.empty) {
      const made = await call(user.client, 'POST', '/session', batch('true', ok));
      t.is(made.status, 201, `${c.field} ${JSON.stringify(ok)}: ${msgOf(made.body)}`);
    }
  }
  // Backend.AI's fragmentation flag is accepted (bai never splits a device).
  const frag = await call(
    user.client,
    'POST',
    '/session',
    batch('true', { config: { resource_opts: { allow_fractional_resource_fragmentation: true } } }),
  );
  t.is(frag.status, 201, msgOf(frag.body));
});

test('architecture: agents report theirs; a session asking it runs there and shows it', async (t) => {
  const agents = await call<{ items: { id: string; architecture: string }[] }>(
    stack.client,
    'GET',
    '/agents',
  );
  t.true(agents.body.items.length > 0);
  t.true(agents.body.items.every((a) => a.architecture === here));
  const r = await call<{ sessionId: string }>(
    user.client,
    'POST',
    '/session',
    batch('echo arch-ok', { architecture: here }),
  );
  t.is(r.status, 201);
  const s = await waitForStatus(user.client, r.body.sessionId, ['TERMINATED', 'CANCELLED', 'ERROR']);
  t.is(s.exitCode, 0);
  const info = await call<{ architecture: string | null }>(
    user.client,
    'GET',
    `/session/${r.body.sessionId}`,
  );
  t.is(info.body.architecture, here);
});

test('group: default for every keypair, another only for its members (admins any)', async (t) => {
  const denied = await call(user.client, 'POST', '/session', batch('true', { group: 'team-x' }));
  t.is(denied.status, 400);
  t.is(slugOf(denied), 'generic-bad-request');
  t.regex(msgOf(denied.body), /Invalid group "team-x"/);
  t.is((await call(user.client, 'POST', '/session', batch('true', { group: 'default' }))).status, 201);
  t.is((await call(stack.client, 'PUT', `/groups/team-x/members/${user.accessKey}`)).status, 200);
  const member = await call<{ sessionId: string }>(
    user.client,
    'POST',
    '/session',
    batch('true', { group: 'team-x' }),
  );
  t.is(member.status, 201, msgOf(member.body));
  const info = await call<{ groupName: string }>(user.client, 'GET', `/session/${member.body.sessionId}`);
  t.is(info.body.groupName, 'team-x');
  // An admin of the domain submits into any group of it.
  const admin = await makeKeypair(stack, { role: 'admin' });
  t.is((await call(admin.client, 'POST', '/session', batch('true', { group: 'elsewhere' }))).status, 201);
});

test('scaling-group access: open until it lists domains or keypairs, then only to those (404 naming it)', async (t) => {
  const other = await makeKeypair(stack);
  t.is((await call(stack.client, 'POST', '/scaling-groups', { name: 'restricted' })).status, 201);
  const into = (kp: TestKeypair) =>
    call(kp.client, 'POST', '/session', batch('true', { config: { scalingGroup: 'restricted' } }));
  t.is((await into(user)).status, 201, 'a scaling group that lists nobody is open to all');

  const listed = await call<{ domains: string[]; keypairs: string[] }>(
    stack.client,
    'PUT',
    `/scaling-groups/restricted/keypairs/${other.accessKey}`,
  );
  t.is(listed.status, 200);
  t.deepEqual(listed.body, { scaling_group: 'restricted', domains: [], keypairs: [other.accessKey] });
  const refused = await into(user);
  t.is(refused.status, 404);
  t.is(slugOf(refused), 'object-not-found');
  t.regex(msgOf(refused.body), /restricted/);
  t.is((await into(other)).status, 201);
  t.is((await call(user.client, 'PUT', `/scaling-groups/restricted/domains/default`)).status, 403);

  // Opened to the whole domain: everyone of it again.
  t.is((await call(stack.client, 'PUT', '/scaling-groups/restricted/domains/default')).status, 200);
  t.is((await into(user)).status, 201);
  t.is((await call(stack.client, 'DELETE', '/scaling-groups/restricted/domains/default')).status, 200);
  t.is((await into(user)).status, 404);
  t.is((await call(stack.client, 'DELETE', '/scaling-groups/restricted/domains/default')).status, 404);
  // The default scaling group stays open to all.
  t.is((await call(user.client, 'POST', '/session', batch('true'))).status, 201);
});

test("bootstrap_script: the request's, else its keypair's (set by API and CLI)", async (t) => {
  const kp = await makeKeypair(stack, { bootstrap_script: 'echo from-keypair-boot' });
  const run = async (extra: Record<string, unknown>) => {
    const r = await call<{ sessionId: string }>(kp.client, 'POST', '/session', batch('echo main-ran', extra));
    t.is(r.status, 201, msgOf(r.body));
    await waitForStatus(kp.client, r.body.sessionId, ['TERMINATED', 'CANCELLED', 'ERROR']);
    const info = await call<{ bootstrapScript: string | null; exitCode: number }>(
      kp.client,
      'GET',
      `/session/${r.body.sessionId}`,
    );
    const logs = await call<{ result: { logs: string } }>(
      kp.client,
      'GET',
      `/session/${r.body.sessionId}/logs`,
    );
    return { info: info.body, logs: logs.body.result.logs };
  };
  const fallback = await run({ bootstrap_script: null });
  t.is(fallback.info.bootstrapScript, 'echo from-keypair-boot');
  t.regex(fallback.logs, /from-keypair-boot[\s\S]*main-ran/);
  const own = await run({ bootstrap_script: 'echo own-boot' });
  t.is(own.info.bootstrapScript, 'echo own-boot');
  t.notRegex(own.logs, /from-keypair-boot/);

  const shown = await call<{ bootstrap_script: string | null }>(
    stack.client,
    'GET',
    `/keypairs/${kp.accessKey}`,
  );
  t.is(shown.body.bootstrap_script, 'echo from-keypair-boot');
  const cleared = await bai(stack, ['keypair', 'update', kp.accessKey, '--clear-bootstrap-script', '--json']);
  t.is(cleared.code, 0, cleared.stderr);
  t.is((JSON.parse(cleared.stdout) as { bootstrap_script: string | null }).bootstrap_script, null);
  const bad = await call(stack.client, 'PATCH', `/keypairs/${kp.accessKey}`, { bootstrap_script: 42 });
  t.is(bad.status, 400);
  const none = await bai(stack, ['keypair', 'update', kp.accessKey]);
  t.not(none.code, 0);
});
