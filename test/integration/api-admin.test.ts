import test from 'ava';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { apiRouters } from '../../src/api/app.js';
import type { ApiContext } from '../../src/api/api-context.js';
import { hashToken } from '../../src/api/auth.js';
import { describedOperations, openApiDocument } from '../../src/api/openapi.js';
import { BAI_VERSION } from '../../src/api/routes/root.js';
import { ApiClient } from '../../src/cli/client.js';
import { startManager } from '../../src/workers/manager/manager-process.js';
import { batch, quietLog, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';
import { call, makeKeypair, slugOf, tokenClient } from '../helpers/api.js';

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ agents: 1 });
});
test.after.always(async () => {
  await stack?.close();
});

test('GET /openapi.json is served unsigned and describes every registered route', async (t) => {
  const res = await fetch(`${stack.manager.url}/openapi.json`);
  t.is(res.status, 200);
  const doc = (await res.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
  t.is(doc.openapi, '3.1.0');
  const described = new Set(describedOperations().map((o) => `${o.method} ${o.path}`));
  const registered: string[] = [];
  for (const r of apiRouters({} as ApiContext, () => {})) {
    for (const layer of r.stack) {
      const path = String(layer.path).replace(/:(\w+)/g, '{$1}');
      for (const m of layer.methods) if (m !== 'HEAD') registered.push(`${m} ${path}`);
    }
  }
  t.true(registered.length > 30);
  for (const op of registered) t.true(described.has(op), `${op} is not in the OpenAPI document`);
  for (const op of described) t.true(registered.includes(op), `${op} is described but not served`);
  const kept = JSON.parse(
    readFileSync(fileURLToPath(new URL('../../../docs/openapi.json', import.meta.url)), 'utf8'),
  ) as unknown;
  t.deepEqual(kept, openApiDocument(BAI_VERSION), 'docs/openapi.json is stale: node dist/scripts/openapi.js');
});

test('GET /health is served unsigned and reports the event tail', async (t) => {
  const res = await fetch(`${stack.manager.url}/health`);
  t.is(res.status, 200);
  const body = (await res.json()) as {
    ok: boolean;
    eventTail: { ok: boolean; since: string; lastError: unknown };
  };
  t.true(body.ok);
  t.true(body.eventTail.ok);
  t.false(Number.isNaN(Date.parse(body.eventTail.since)));
  t.is(body.eventTail.lastError, null);
});

test('keypairs: create shows the secret once, list never; users are forbidden; admins stay in their domain', async (t) => {
  const user = await makeKeypair(stack);
  t.regex(user.secretKey, /.{16,}/);
  const list = await call<{ items: Record<string, unknown>[] }>(stack.client, 'GET', '/keypairs');
  t.is(list.status, 200);
  const mine = list.body.items.find((k) => k.access_key === user.accessKey)!;
  t.is(mine.role, 'user');
  t.false('secret_key' in mine);
  t.false('webhook_secret' in mine);
  t.false(JSON.stringify(list.body).includes(user.secretKey));

  const asUser = await call(user.client, 'GET', '/keypairs');
  t.is(asUser.status, 403);
  t.is(slugOf(asUser), 'generic-forbidden');
  const me = await call<{ access_key: string; webhook_secret: string }>(user.client, 'GET', '/keypairs/me');
  t.is(me.body.access_key, user.accessKey);
  t.is(me.body.webhook_secret, user.webhookSecret);

  // A second domain with its own admin: it sees only its domain and cannot act outside it.
  t.is(
    (await call(stack.client, 'POST', '/domains', { name: 'other', allowed_registries: ['bai.local'] }))
      .status,
    201,
  );
  const otherAdmin = await makeKeypair(stack, { domain_name: 'other', role: 'admin' });
  const seen = await call<{ items: { domain_name: string }[] }>(otherAdmin.client, 'GET', '/keypairs');
  t.true(seen.body.items.length >= 1);
  t.true(seen.body.items.every((k) => k.domain_name === 'other'));
  const outside = await call(otherAdmin.client, 'GET', '/keypairs', undefined, { domain: 'default' });
  t.is(outside.status, 403);
  t.is(slugOf(outside), 'insufficient-privilege');
  t.is((await call(otherAdmin.client, 'GET', `/keypairs/${user.accessKey}`)).status, 404);
  const superUp = await call(otherAdmin.client, 'POST', '/keypairs', {
    user_email: 'x@y.z',
    role: 'superadmin',
  });
  t.is(slugOf(superUp), 'insufficient-privilege');
  const inOther = await makeKeypair(stack, {}, otherAdmin.client);
  t.is(
    (await call<{ domain_name: string }>(stack.client, 'GET', `/keypairs/${inOther.accessKey}`)).body
      .domain_name,
    'other',
  );
  // Admins of a domain do not change infrastructure.
  t.is(
    slugOf(await call(otherAdmin.client, 'POST', '/scaling-groups', { name: 'nope' })),
    'generic-forbidden',
  );
});

test('a deactivated keypair gets 401 on its very next request, and works again when reactivated', async (t) => {
  const kp = await makeKeypair(stack);
  t.is((await call(kp.client, 'GET', '/keypairs/me')).status, 200); // now cached
  const off = await call<{ is_active: boolean }>(stack.client, 'PATCH', `/keypairs/${kp.accessKey}`, {
    is_active: false,
  });
  t.false(off.body.is_active);
  const denied = await call(kp.client, 'GET', '/keypairs/me');
  t.is(denied.status, 401);
  t.is(slugOf(denied), 'auth-failed');
  await call(stack.client, 'PATCH', `/keypairs/${kp.accessKey}`, { is_active: true });
  t.is((await call(kp.client, 'GET', '/keypairs/me')).status, 200);
  // Deleted (it never owned a session): 401 at once, and gone from the list.
  t.is((await call(stack.client, 'DELETE', `/keypairs/${kp.accessKey}`)).status, 200);
  t.is((await call(kp.client, 'GET', '/keypairs/me')).status, 401);
  t.is((await call(stack.client, 'GET', `/keypairs/${kp.accessKey}`)).status, 404);
});

test('bearer tokens: shown once, stored hashed, listed, revoked → 401 at once; a deactivated owner → 401', async (t) => {
  const kp = await makeKeypair(stack);
  const made = await call<{ id: string; token: string }>(kp.client, 'POST', '/tokens', { name: 'cron' });
  t.is(made.status, 201);
  t.regex(made.body.token, /^bai_/);
  const row = await stack.database.db('api_tokens').where({ id: made.body.id }).first();
  t.is(row.token_hash, hashToken(made.body.token));
  t.false(JSON.stringify(row).includes(made.body.token));

  const bearer = tokenClient(stack, made.body.token);
  const me = await call<{ access_key: string; authenticated_by: string }>(bearer, 'GET', '/keypairs/me');
  t.is(me.body.access_key, kp.accessKey);
  t.is(me.body.authenticated_by, 'token');
  const created = await call<{ status: string }>(
    bearer,
    'POST',
    '/session',
    batch('true', { name: 'by-token' }),
  );
  t.is(created.status, 201);

  const listed = await call<{ items: { id: string; name: string; last_used_at: string | null }[] }>(
    kp.client,
    'GET',
    '/tokens',
  );
  t.deepEqual(
    listed.body.items.map((x) => x.name),
    ['cron'],
  );
  t.truthy(listed.body.items[0]!.last_used_at);
  t.false(JSON.stringify(listed.body).includes(made.body.token));

  // Someone else's token is not theirs to revoke.
  const other = await makeKeypair(stack);
  t.is((await call(other.client, 'DELETE', `/tokens/${made.body.id}`)).status, 404);
  const revoked = await call<{ revoked_at: string | null }>(kp.client, 'DELETE', `/tokens/${made.body.id}`);
  t.truthy(revoked.body.revoked_at);
  const denied = await call(bearer, 'GET', '/keypairs/me');
  t.is(denied.status, 401);
  t.is(slugOf(denied), 'auth-failed');

  const second = await call<{ token: string }>(stack.client, 'POST', '/tokens', { access_key: kp.accessKey });
  t.is((await call(tokenClient(stack, second.body.token), 'GET', '/keypairs/me')).status, 200);
  await call(stack.client, 'PATCH', `/keypairs/${kp.accessKey}`, { is_active: false });
  t.is((await call(tokenClient(stack, second.body.token), 'GET', '/keypairs/me')).status, 401);
  await waitForStatus(stack.client, 'by-token', ['TERMINATED'], 60_000).catch(() => undefined);
  await call(stack.client, 'DELETE', '/session/by-token', undefined, { owner_access_key: kp.accessKey });
});

test('resource policies, domains and scaling groups: CRUD by superadmins, checked input', async (t) => {
  const pol = await call(stack.client, 'POST', '/resource-policies', {
    name: 'small',
    max_concurrent_sessions: 2,
    max_pending_session_count: 1,
    max_priority: 20,
    total_resource_slots: { cpu: 2 },
  });
  t.is(pol.status, 201);
  t.is(slugOf(await call(stack.client, 'POST', '/resource-policies', { name: 'small' })), 'conflict');
  t.is(
    slugOf(await call(stack.client, 'PATCH', '/resource-policies/small', { max_priority: 'high' })),
    'generic-bad-request',
  );
  const patched = await call<{ max_priority: number }>(stack.client, 'PATCH', '/resource-policies/small', {
    max_priority: 30,
  });
  t.is(patched.body.max_priority, 30);
  const kp = await makeKeypair(stack, { resource_policy: 'small' });
  const tooHigh = await call(kp.client, 'POST', '/session', batch('true', { priority: 31 }));
  t.is(slugOf(tooHigh), 'generic-bad-request');
  t.regex((tooHigh.body as { msg: string }).msg, /maximum of 30/);
  t.is(slugOf(await call(stack.client, 'DELETE', '/resource-policies/small')), 'conflict');

  t.is(
    (await call(stack.client, 'POST', '/scaling-groups', { name: 'gpu', description: 'GPU hosts' })).status,
    201,
  );
  const groups = await call<{ items: { name: string }[] }>(kp.client, 'GET', '/scaling-groups');
  t.deepEqual(groups.body.items.map((g) => g.name).sort(), ['default', 'gpu']);
  t.is((await call(stack.client, 'PATCH', '/scaling-groups/gpu', { is_active: false })).status, 200);
  t.is(
    slugOf(await call(kp.client, 'POST', '/session', batch('true', { config: { scalingGroup: 'gpu' } }))),
    'generic-bad-request',
  );
  t.is((await call(stack.client, 'DELETE', '/scaling-groups/gpu')).status, 200);
  t.is(slugOf(await call(stack.client, 'POST', '/scaling-groups', { name: '../x' })), 'generic-bad-request');
  t.is(
    slugOf(await call(stack.client, 'POST', '/domains', { name: 'd2', allowed_registries: 'bai.local' })),
    'generic-bad-request',
  );
  t.is(
    slugOf(await call(stack.client, 'POST', '/domains', { name: 'd3', colour: 'red' })),
    'generic-bad-request',
  );
});

test('registries: credentials are write-only; images and aliases follow the domain allow-list', async (t) => {
  const add = await call(stack.client, 'POST', '/registries', {
    hostname: '127.0.0.1:5999',
    url: 'http://127.0.0.1:5999',
    username: 'robot',
    password: 's3cr3t-pw',
  });
  t.is(add.status, 201);
  t.deepEqual(add.body, {
    hostname: '127.0.0.1:5999',
    url: 'http://127.0.0.1:5999',
    has_credentials: true,
    created_at: (add.body as { created_at: string }).created_at,
  });
  const regs = await call(stack.client, 'GET', '/registries');
  t.false(JSON.stringify(regs.body).includes('s3cr3t-pw'));
  t.false(JSON.stringify(regs.body).includes('robot'));
  const doc = await (await fetch(`${stack.manager.url}/openapi.json`)).text();
  t.false(doc.includes('s3cr3t-pw'));

  const img = await call<{ name: string; registry: string }>(stack.client, 'POST', '/images', {
    name: '127.0.0.1:5999/team/tool:1.0',
    labels: { 'ai.backend.resource.min.mem': '64m' },
  });
  t.is(img.body.registry, '127.0.0.1:5999');
  t.is(
    (await call(stack.client, 'PUT', '/image-aliases/tool', { image: '127.0.0.1:5999/team/tool:1.0' }))
      .status,
    200,
  );
  t.is(
    slugOf(await call(stack.client, 'PUT', '/image-aliases/ghost', { image: 'nowhere/none:1' })),
    'generic-bad-request',
  );
  const images = await call<{ items: { name: string; aliases: string[] }[] }>(stack.client, 'GET', '/images');
  t.deepEqual(images.body.items.find((i) => i.name === img.body.name)!.aliases, ['tool']);

  // Not allowed in the domain yet: the alias is a 404, as an unknown one.
  const refused = await call(stack.client, 'POST', '/session', batch('true', { image: 'tool' }));
  t.is(refused.status, 404);
  t.regex((refused.body as { msg: string }).msg, /disallowed registry/i);
  await call(stack.client, 'PATCH', '/domains/default', {
    allowed_registries: ['bai.local', 'docker.io', '127.0.0.1:5999'],
  });
  const resolved = await call<{ name: string }>(stack.client, 'GET', '/images/resolve', undefined, {
    ref: 'tool',
  });
  t.is(resolved.body.name, '127.0.0.1:5999/team/tool:1.0');
  await call(stack.client, 'PATCH', '/domains/default', { allowed_registries: ['bai.local', 'docker.io'] });
  t.is((await call(stack.client, 'DELETE', '/image-aliases/tool')).status, 200);
  t.is((await call(stack.client, 'DELETE', `/images/${encodeURIComponent(img.body.name)}`)).status, 200);
  t.is((await call(stack.client, 'DELETE', '/registries/127.0.0.1:5999')).status, 200);
});

test.serial(
  'agents: listed with capacity and occupancy; schedulable off drains, on takes work again',
  async (t) => {
    const agents = await call<{
      items: {
        id: string;
        available_slots: Record<string, number>;
        occupied_slots: Record<string, number>;
        running_kernels: number;
        schedulable: boolean;
      }[];
    }>(stack.client, 'GET', '/agents');
    const a = agents.body.items[0]!;
    t.is(a.available_slots.cpu, 4);
    t.is(a.running_kernels, 0);
    const kp = await makeKeypair(stack);
    t.is(slugOf(await call(kp.client, 'GET', '/agents')), 'generic-forbidden');

    const long = await call<{ sessionId: string }>(
      stack.client,
      'POST',
      '/session',
      batch('sleep 30', { name: 'occupier', config: { resources: { cpu: 2 } } }),
    );
    await waitForStatus(stack.client, long.body.sessionId, ['RUNNING']);
    const busy = await call<{ items: (typeof a)[] }>(stack.client, 'GET', '/agents');
    t.is(busy.body.items[0]!.occupied_slots.cpu, 2);
    t.is(busy.body.items[0]!.running_kernels, 1);

    const drained = await call<{ schedulable: boolean }>(stack.client, 'PATCH', `/agents/${a.id}`, {
      schedulable: false,
    });
    t.false(drained.body.schedulable);
    const waiting = await call<{ sessionId: string }>(
      stack.client,
      'POST',
      '/session',
      batch('true', { name: 'after-drain' }),
    );
    await new Promise((r) => setTimeout(r, 1500));
    t.is(
      (await call<{ status: string }>(stack.client, 'GET', `/session/${waiting.body.sessionId}`)).body.status,
      'PENDING',
    );
    await call(stack.client, 'PATCH', `/agents/${a.id}`, { schedulable: true });
    const done = await waitForStatus(stack.client, waiting.body.sessionId);
    t.is(done.result, 'SUCCESS');
    await call(stack.client, 'DELETE', `/session/${long.body.sessionId}`);
    await waitForStatus(stack.client, long.body.sessionId);
  },
);

test('a keypair rate limit answers 429 with the X-RateLimit-* headers', async (t) => {
  const kp = await makeKeypair(stack, { rate_limit: 5 });
  const answers = [];
  for (let i = 0; i < 7; i++) answers.push(await call(kp.client, 'GET', '/keypairs/me'));
  t.deepEqual(
    answers.map((a) => a.status),
    [200, 200, 200, 200, 200, 429, 429],
  );
  const last = answers[6]!;
  t.is(slugOf(last), 'too-many-requests');
  t.is(last.headers.get('x-ratelimit-limit'), '5');
  t.is(last.headers.get('x-ratelimit-remaining'), '0');
  t.is(last.headers.get('x-ratelimit-window'), '60');
  t.is(answers[0]!.headers.get('x-ratelimit-remaining'), '4');
});

test('a deactivation through one manager is effective at once on another manager', async (t) => {
  const second = await startManager({ ...stack.managerConfig, port: 0 }, quietLog);
  t.teardown(() => second.close());
  const kp = await makeKeypair(stack);
  const viaSecond = new ApiClient({ ...kp.client.config, endpoint: second.url });
  t.is((await call(viaSecond, 'GET', '/keypairs/me')).status, 200); // cached there now
  await call(stack.client, 'PATCH', `/keypairs/${kp.accessKey}`, { is_active: false });
  // The message travels through Redis; allow it a moment, far below the cache's two seconds.
  let status = 0;
  for (let i = 0; i < 20; i++) {
    status = (await call(viaSecond, 'GET', '/keypairs/me')).status;
    if (status === 401) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  t.is(status, 401);
});

test('a change to a resource policy or a keypair holds for the next create on every manager, though both cache them', async (t) => {
  // A second manager whose create path remembers rows for a minute: only the forget message
  // the admin routes send (over Redis) can make it see a change within the test.
  const second = await startManager({ ...stack.managerConfig, port: 0, submitCacheMs: 60_000 }, quietLog);
  t.teardown(() => second.close());
  await call(stack.client, 'POST', '/resource-policies', { name: 'cached', max_priority: 50 });
  const kp = await makeKeypair(stack, { resource_policy: 'cached' });
  const viaSecond = new ApiClient({ ...kp.client.config, endpoint: second.url });
  const later = { starts_at: '2h' };
  // The first create on each manager reads (and caches) the keypair and its policy.
  const first = await call(viaSecond, 'POST', '/session', batch('true', { priority: 40, ...later }));
  t.is(first.status, 201, JSON.stringify(first.body));
  await call(stack.client, 'PATCH', '/resource-policies/cached', { max_priority: 30 });
  // The message travels through Redis: wait for it, far within the minute the cache would hold.
  const refusedWithin = async (body: Record<string, unknown>, slug: string) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await call(viaSecond, 'POST', '/session', batch('true', body));
      if (slugOf(r) === slug) return r;
      t.is(r.status, 201, JSON.stringify(r.body));
      const { sessionId } = r.body as { sessionId: string };
      await call(viaSecond, 'DELETE', `/session/${sessionId}`);
      if (Date.now() > deadline) return r;
      await new Promise((res) => setTimeout(res, 50));
    }
  };
  const tooHigh = await refusedWithin({ priority: 40, ...later }, 'generic-bad-request');
  t.regex((tooHigh.body as { msg: string }).msg, /maximum of 30/);
  await call(stack.client, 'POST', '/resource-policies', {
    name: 'cached-one',
    max_pending_session_count: 1,
  });
  await call(stack.client, 'PATCH', `/keypairs/${kp.accessKey}`, { resource_policy: 'cached-one' });
  t.is(slugOf(await refusedWithin(later, 'quota-exceeded')), 'quota-exceeded');
  const { sessionId } = first.body as { sessionId: string };
  t.is((await call(viaSecond, 'DELETE', `/session/${sessionId}`)).status, 200);
});
