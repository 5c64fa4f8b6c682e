import test from 'ava';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';
import { call, makeKeypair, openSse, slugOf, type TestKeypair } from '../helpers/api.js';

let stack: TestStack;
let alice: TestKeypair;
let bob: TestKeypair;
test.before(async () => {
  stack = await startTestStack({ agents: 1 });
  alice = await makeKeypair(stack);
  bob = await makeKeypair(stack);
});
test.after.always(async () => {
  await stack?.close();
});

test('a user cannot see, follow, cancel or read logs of another keypair’s session (404)', async (t) => {
  const s = await call<{ sessionId: string }>(
    alice.client,
    'POST',
    '/session',
    batch('echo secret-output', { name: 'alice-job' }),
  );
  await waitForStatus(alice.client, 'alice-job');
  for (const ref of ['alice-job', s.body.sessionId, s.body.sessionId.slice(0, 8)]) {
    for (const path of [`/session/${ref}`, `/session/${ref}/logs`, `/session/${ref}/status-history`]) {
      const r = await call(bob.client, 'GET', path);
      t.is(r.status, 404, `GET ${path}`);
      t.is(slugOf(r), 'object-not-found');
      t.false(JSON.stringify(r.body).includes('secret-output'));
    }
    t.is((await call(bob.client, 'DELETE', `/session/${ref}`)).status, 404);
  }
  for (const q of [{ sessionName: 'alice-job' }, { sessionId: s.body.sessionId }] as Record<
    string,
    string
  >[]) {
    const sse = await openSse(bob.client, q);
    t.is(sse.status, 404);
    sse.close();
  }
  const asOwner = await openSse(bob.client, { sessionName: '*', ownerAccessKey: alice.accessKey });
  t.is(asOwner.status, 403);
  asOwner.close();
  const listed = await call<{ items: { sessionName: string }[] }>(bob.client, 'GET', '/sessions', undefined, {
    status: 'TERMINATED',
  });
  t.false(listed.body.items.some((x) => x.sessionName === 'alice-job'));
  t.is(
    slugOf(await call(bob.client, 'GET', '/sessions', undefined, { owner_access_key: alice.accessKey })),
    'insufficient-privilege',
  );
  // bob's view of the session is the same as of a name nobody uses.
  const ghost = await call(bob.client, 'GET', '/session/nobody-has-this');
  const hidden = await call(bob.client, 'GET', '/session/alice-job');
  t.is((hidden.body as { title: string }).title, (ghost.body as { title: string }).title);
});

test('a user’s event stream of all their sessions carries none of another keypair’s events', async (t) => {
  const bobAll = await openSse(bob.client, { sessionName: '*', scope: '*' });
  await call(alice.client, 'POST', '/session', batch('true', { name: 'alice-noise' }));
  await waitForStatus(alice.client, 'alice-noise');
  await call(bob.client, 'POST', '/session', batch('true', { name: 'bob-marker' }));
  await bobAll.until((f) => f.event === 'session_terminated' && f.data.sessionName === 'bob-marker');
  bobAll.close();
  t.true(bobAll.frames.length > 0);
  t.true(bobAll.frames.every((f) => f.data.ownerAccessKey === bob.accessKey));
});

test('an admin acts on another keypair’s session with owner_access_key; an admin of another domain cannot', async (t) => {
  const s = await call<{ sessionId: string }>(
    alice.client,
    'POST',
    '/session',
    batch('echo for-admin', { name: 'alice-adm' }),
  );
  await waitForStatus(alice.client, 'alice-adm');
  const admin = await makeKeypair(stack, { role: 'admin' });
  const q = { owner_access_key: alice.accessKey };
  t.is((await call(admin.client, 'GET', '/session/alice-adm')).status, 404); // without it: its own sessions
  const info = await call<{ sessionId: string }>(admin.client, 'GET', '/session/alice-adm', undefined, q);
  t.is(info.body.sessionId, s.body.sessionId);
  const logs = await call<{ result: { logs: string } }>(
    admin.client,
    'GET',
    '/session/alice-adm/logs',
    undefined,
    q,
  );
  t.is(logs.body.result.logs, 'for-admin\n');
  t.is((await call(admin.client, 'GET', '/session/alice-adm/status-history', undefined, q)).status, 200);
  const sse = await openSse(admin.client, { sessionName: 'alice-adm', ownerAccessKey: alice.accessKey });
  const ended = await sse.until((f) => f.event === 'session_terminated');
  sse.close();
  t.is(ended.data.sessionId, s.body.sessionId);
  const list = await call<{ items: { ownerAccessKey: string }[] }>(
    admin.client,
    'GET',
    '/sessions',
    undefined,
    {
      owner_access_key: alice.accessKey,
      status: 'TERMINATED',
    },
  );
  t.true(list.body.items.length >= 1);
  t.true(list.body.items.every((x) => x.ownerAccessKey === alice.accessKey));

  // Cancel a pending session of alice's, as the admin; and create one for her.
  const pending = await call<{ sessionId: string }>(admin.client, 'POST', '/session', {
    ...batch('true', { name: 'made-for-alice', starts_at: '2h' }),
    owner_access_key: alice.accessKey,
  });
  t.is(pending.status, 201);
  t.is(
    (await call<{ ownerAccessKey: string }>(alice.client, 'GET', '/session/made-for-alice')).body
      .ownerAccessKey,
    alice.accessKey,
  );
  const cancelled = await call<{ status: string }>(
    admin.client,
    'DELETE',
    '/session/made-for-alice',
    undefined,
    q,
  );
  t.is(cancelled.body.status, 'CANCELLED');

  await call(stack.client, 'POST', '/domains', { name: 'elsewhere', allowed_registries: ['bai.local'] });
  const foreign = await makeKeypair(stack, { role: 'admin', domain_name: 'elsewhere' });
  const denied = await call(foreign.client, 'GET', '/session/alice-adm', undefined, q);
  t.is(denied.status, 403);
  t.is(slugOf(denied), 'insufficient-privilege');
  // The superadmin sees every keypair's sessions with all=true.
  const all = await call<{ items: { ownerAccessKey: string }[] }>(
    stack.client,
    'GET',
    '/sessions',
    undefined,
    { all: 'true', status: 'TERMINATED,CANCELLED' },
  );
  t.true(all.body.items.some((x) => x.ownerAccessKey === alice.accessKey));
});

test('GET /sessions filters by status, type, tag, name and time, pages and sorts', async (t) => {
  const carol = await makeKeypair(stack);
  for (const [name, tag, prio] of [
    ['list-a', 'nightly', 5],
    ['list-b', 'nightly', 50],
    ['list-c', 'weekly', 20],
  ] as const) {
    const r = await call(
      carol.client,
      'POST',
      '/session',
      batch('true', { name, tag, priority: prio, starts_at: '2h' }),
    );
    t.is(r.status, 201);
  }
  await call(carol.client, 'POST', '/session', {
    image: 'python',
    type: 'interactive',
    name: 'list-i',
    enqueueOnly: true,
  });
  type Page = {
    items: { sessionName: string; priority: number }[];
    total: number;
    limit: number;
    offset: number;
  };
  const get = async (q: Record<string, string>) =>
    (await call<Page>(carol.client, 'GET', '/sessions', undefined, q)).body;
  t.deepEqual(
    (await get({ tag: 'nightly', order: 'name' })).items.map((x) => x.sessionName),
    ['list-a', 'list-b'],
  );
  t.deepEqual(
    (await get({ type: 'interactive' })).items.map((x) => x.sessionName),
    ['list-i'],
  );
  t.deepEqual(
    (await get({ name: 'list-c' })).items.map((x) => x.sessionName),
    ['list-c'],
  );
  const byPrio = await get({ type: 'batch', order: '-priority' });
  t.deepEqual(
    byPrio.items.map((x) => x.priority),
    [50, 20, 5],
  );
  const page = await get({ order: 'name', limit: '2', offset: '1' });
  t.is(page.total, 4);
  t.is(page.limit, 2);
  t.deepEqual(
    page.items.map((x) => x.sessionName),
    ['list-b', 'list-c'],
  );
  t.is((await get({ created_after: new Date(Date.now() + 60_000).toISOString() })).total, 0);
  t.is((await get({ created_before: new Date(Date.now() + 60_000).toISOString() })).total, 4);
  t.is((await get({ status: 'PENDING', type: 'batch' })).total, 3);
  t.is(
    slugOf(await call(carol.client, 'GET', '/sessions', undefined, { order: 'secret_key' })),
    'generic-bad-request',
  );
  t.is(
    slugOf(await call(carol.client, 'GET', '/sessions', undefined, { status: 'NAPPING' })),
    'generic-bad-request',
  );
  t.is(
    slugOf(await call(carol.client, 'GET', '/sessions', undefined, { created_after: 'yesterday' })),
    'generic-bad-request',
  );
  for (const n of ['list-a', 'list-b', 'list-c', 'list-i'])
    await call(carol.client, 'DELETE', `/session/${n}`);
});
