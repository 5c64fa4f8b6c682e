import test from 'ava';
import { holdsWithin } from '../helpers/eventually.js';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';
import { call, makeKeypair, slugOf, type TestKeypair } from '../helpers/api.js';

const run = promisify(execFile);
const PY_CLIENT = fileURLToPath(new URL('../../../test/fixtures/py_client.py', import.meta.url));

let stack: TestStack;
let user: TestKeypair;
test.before(async () => {
  stack = await startTestStack({ agents: 1, manager: { bodyLimitBytes: 256 * 1024 } });
  user = await makeKeypair(stack);
  for (const name of ['vf1', 'vf2'])
    if ((await call(user.client, 'POST', '/folders', { name })).status !== 201) throw new Error(name);
});
test.after.always(async () => {
  await stack?.close();
});

interface PyAnswer {
  status: number;
  contentType: string;
  body: Record<string, unknown>;
  date?: string;
}

async function python(kp: { accessKey: string; secretKey: string }, ops: unknown[]): Promise<PyAnswer[]> {
  const { stdout } = await run(
    'python3',
    [PY_CLIENT, stack.manager.url, kp.accessKey, kp.secretKey, JSON.stringify(ops)],
    {
      timeout: 90_000,
    },
  );
  return JSON.parse(stdout) as PyAnswer[];
}

const FAR = '2h'; // sessions that must stay PENDING while their info is read

test('every create field, camelCase, is accepted and visible in the session info', async (t) => {
  const dep = await call<{ sessionId: string }>(
    user.client,
    'POST',
    '/session',
    batch('true', { name: 'camel-dep', startsAt: FAR }),
  );
  const r = await call<{ sessionId: string; status: string; created: boolean }>(
    stack.client,
    'POST',
    '/session',
    {
      sessionName: 'camel-all',
      image: 'python',
      sessionType: 'batch',
      groupName: 'default',
      domainName: 'default',
      ownerAccessKey: user.accessKey,
      enqueueOnly: false,
      maxWaitSeconds: 1,
      reuseIfExists: true,
      startupCommand: 'echo camel',
      startsAt: FAR,
      batchTimeout: '30m',
      dependencies: [dep.body.sessionId],
      callbackURL: 'http://127.0.0.1:9/hook',
      priority: 42,
      clusterSize: 2,
      clusterMode: 'single-node',
      bootstrapScript: 'echo boot',
      tag: 'nightly',
      retryPolicy: { maxAttempts: 2 },
      config: {
        mounts: ['vf1'],
        mountMap: { vf1: '/data' },
        environ: { GREETING: 'hi' },
        resources: { cpu: '1', mem: '512m' },
        resourceOpts: { shmem: '64m' },
        scalingGroup: 'default',
      },
    },
  );
  t.is(r.status, 201, JSON.stringify(r.body));
  t.is(r.body.status, 'TIMEOUT'); // waited maxWaitSeconds for RUNNING
  t.true(r.body.created);
  const info = await call<SessionWire>(user.client, 'GET', '/session/camel-all');
  const i = info.body;
  t.like(i, {
    sessionName: 'camel-all',
    type: 'batch',
    groupName: 'default',
    domainName: 'default',
    ownerAccessKey: user.accessKey,
    lang: 'python',
    startupCommand: 'echo camel',
    batchTimeout: 1800,
    dependencies: [dep.body.sessionId],
    callbackUrl: 'http://127.0.0.1:9/hook',
    priority: 42,
    clusterSize: 2,
    clusterMode: 'single-node',
    bootstrapScript: 'echo boot',
    tag: 'nightly',
    environ: { GREETING: 'hi' },
    mounts: [{ name: 'vf1', target: '/data', readOnly: false, path: `${user.accessKey}/vf1` }],
    occupiedSlots: { cpu: 1, mem: 512 * 1024 ** 2 },
    resourceOpts: { shmem: 64 * 1024 ** 2 },
    scalingGroup: 'default',
    status: 'PENDING',
  });
  t.is((i.kernels as unknown[]).length, 2);
  const startsIn = Date.parse(String(i.startsAt)) - Date.now();
  t.true(startsIn > 7000_000 && startsIn < 7300_000, `startsAt ${String(i.startsAt)}`);
  t.is((i.retryPolicy as { maxAttempts: number }).maxAttempts, 2);

  const again = await call<{ sessionId: string; created: boolean }>(
    user.client,
    'POST',
    '/session',
    batch('true', { name: 'camel-all', reuseIfExists: true }),
  );
  t.is(again.status, 201);
  t.false(again.body.created);
  t.is(again.body.sessionId, r.body.sessionId);
  const refused = await call<{ data: { existingSessionId: string } }>(
    user.client,
    'POST',
    '/session',
    batch('true', { name: 'camel-all', reuseIfExists: false }),
  );
  t.is(refused.status, 400);
  t.is(slugOf(refused), 'session-already-exists');
  t.is(refused.body.data.existingSessionId, r.body.sessionId);
  t.is((await call(user.client, 'DELETE', '/session/camel-dep')).status, 200);
  await waitForStatus(user.client, 'camel-all', ['CANCELLED']);
});

test('every create field, snake_case, is accepted and visible in the session info', async (t) => {
  const dep = await call<{ sessionId: string }>(
    user.client,
    'POST',
    '/session',
    batch('true', { name: 'snake-dep', starts_at: FAR }),
  );
  const r = await call<{ sessionId: string; status: string }>(stack.client, 'POST', '/session', {
    session_name: 'snake_all',
    lang: 'python',
    session_type: 'batch',
    group: 'default',
    domain: 'default',
    owner_access_key: user.accessKey,
    enqueue_only: false,
    max_wait_seconds: 1,
    reuse_if_exists: true,
    startup_command: 'echo snake',
    starts_at: '2hours 0min',
    batch_timeout: 90,
    dependencies: [dep.body.sessionId],
    callback_url: 'http://127.0.0.1:9/hook2',
    priority: 7,
    cluster_size: 1,
    cluster_mode: 'single-node',
    bootstrap_script: 'echo boot2',
    tag: 'weekly',
    config: {
      mounts: ['vf2'],
      mount_map: { vf2: 'rel/dir' },
      environ: { N: 1 },
      resources: { cpu: 2, mem: '1g' },
      resource_opts: { shmem: '128m' },
      scaling_group: 'default',
    },
  });
  t.is(r.status, 201, JSON.stringify(r.body));
  t.is(r.body.status, 'TIMEOUT');
  const i = (await call<SessionWire>(user.client, 'GET', `/session/${r.body.sessionId}`)).body;
  t.like(i, {
    sessionName: 'snake_all',
    ownerAccessKey: user.accessKey,
    startupCommand: 'echo snake',
    batchTimeout: 90,
    dependencies: [dep.body.sessionId],
    callbackUrl: 'http://127.0.0.1:9/hook2',
    priority: 7,
    clusterSize: 1,
    bootstrapScript: 'echo boot2',
    tag: 'weekly',
    environ: { N: '1' },
    mounts: [{ name: 'vf2', target: '/home/work/rel/dir', readOnly: false, path: `${user.accessKey}/vf2` }],
    occupiedSlots: { cpu: 2, mem: 1024 ** 3 },
    resourceOpts: { shmem: 128 * 1024 ** 2 },
  });
  const startsIn = Date.parse(String(i.startsAt)) - Date.now();
  t.true(startsIn > 7000_000 && startsIn < 7300_000);
  // The old spelling of the name, and enqueue_only answering at once.
  const old = await call<{ status: string; sessionName: string }>(user.client, 'POST', '/session', {
    clientSessionToken: 'old-token-name',
    lang: 'python',
    type: 'interactive',
    enqueue_only: true,
  });
  t.is(old.status, 201);
  t.is(old.body.status, 'PENDING');
  t.is(old.body.sessionName, 'old-token-name');
  for (const n of ['snake-dep', 'old-token-name']) await call(user.client, 'DELETE', `/session/${n}`);
  await waitForStatus(user.client, 'snake_all', ['CANCELLED']);
});

test('create checks: never fits, image label minimum/maximum, shmem, batch-only fields, quota, unknown storage', async (t) => {
  const never = await call<{ msg: string; data: { slot: string } }>(
    user.client,
    'POST',
    '/session',
    batch('true', { config: { resources: { cpu: 64 } } }),
  );
  t.is(slugOf(never), 'generic-bad-request');
  t.regex(never.body.msg, /cpu/);
  t.regex(never.body.msg, /largest agent has 4/);
  const shm = await call(
    user.client,
    'POST',
    '/session',
    batch('true', { config: { resources: { mem: '256m' }, resource_opts: { shmem: '256m' } } }),
  );
  t.regex((shm.body as { msg: string }).msg, /shmem/);
  const st = await call(user.client, 'POST', '/session', {
    image: 'python',
    type: 'interactive',
    starts_at: '1m',
  });
  t.regex((st.body as { msg: string }).msg, /only for batch/);
  const noCmd = await call(user.client, 'POST', '/session', { image: 'python', type: 'batch' });
  t.regex((noCmd.body as { msg: string }).msg, /startup_command/);

  // Slot minimum and maximum from the image's labels.
  await call(stack.client, 'POST', '/images', {
    name: 'bai.local/labeled:1',
    labels: { 'ai.backend.resource.min.mem': '512m', 'ai.backend.resource.max.cpu': '2' },
  });
  await call(stack.client, 'PUT', '/image-aliases/labeled', { image: 'bai.local/labeled:1' });
  const small = await call<{ msg: string }>(
    user.client,
    'POST',
    '/session',
    batch('true', { image: 'labeled', config: { resources: { mem: '256m' } } }),
  );
  t.regex(small.body.msg, /needs at least .* mem/);
  const big = await call<{ msg: string }>(
    user.client,
    'POST',
    '/session',
    batch('true', { image: 'labeled', config: { resources: { cpu: 3 } } }),
  );
  t.regex(big.body.msg, /allows at most 2 cpu/);
  const fitted = await call<{ sessionId: string }>(
    user.client,
    'POST',
    '/session',
    batch('true', { image: 'labeled', starts_at: FAR }),
  );
  const fittedInfo = (await call<SessionWire>(user.client, 'GET', `/session/${fitted.body.sessionId}`)).body;
  t.is((fittedInfo.occupiedSlots as { mem: number }).mem, 512 * 1024 ** 2);
  t.is(fittedInfo.image, 'bai.local/labeled:1');
  await call(user.client, 'DELETE', `/session/${fitted.body.sessionId}`);

  // A label that is not a size: the request is refused, naming the image and the label.
  await call(stack.client, 'POST', '/images', {
    name: 'bai.local/mislabeled:1',
    labels: { 'ai.backend.resource.min.mem': 'lots' },
  });
  await call(stack.client, 'PUT', '/image-aliases/mislabeled', { image: 'bai.local/mislabeled:1' });
  const mislabeled = await call<{ msg: string; data: Record<string, unknown> }>(
    user.client,
    'POST',
    '/session',
    batch('true', { image: 'mislabeled' }),
  );
  t.is(mislabeled.status, 400);
  t.is(slugOf(mislabeled), 'invalid-image-label');
  t.deepEqual(mislabeled.body.data, {
    image: 'bai.local/mislabeled:1',
    label: 'ai.backend.resource.min.mem',
    value: 'lots',
  });

  await call(stack.client, 'POST', '/resource-policies', {
    name: 'one-pending',
    max_pending_session_count: 1,
  });
  const limited = await makeKeypair(stack, { resource_policy: 'one-pending' });
  const q1 = await call(
    limited.client,
    'POST',
    '/session',
    batch('true', { name: 'quota-1', starts_at: FAR }),
  );
  t.is(q1.status, 201, JSON.stringify(q1.body));
  const over = await call(
    limited.client,
    'POST',
    '/session',
    batch('true', { name: 'quota-2', starts_at: FAR }),
  );
  t.is(over.status, 400);
  t.is(slugOf(over), 'quota-exceeded');
  await call(limited.client, 'DELETE', '/session/quota-1');

  await call(stack.client, 'POST', '/domains', {
    name: 'nostore',
    allowed_registries: ['bai.local'],
    allowed_storage: ['ok1'],
  });
  const confined = await makeKeypair(stack, { domain_name: 'nostore' });
  const badMount = await call(
    confined.client,
    'POST',
    '/session',
    batch('true', { domain: 'nostore', config: { mounts: ['secret'] } }),
  );
  t.regex((badMount.body as { msg: string }).msg, /storage folder "secret" is not allowed/);
  const hostPath = await call(
    confined.client,
    'POST',
    '/session',
    batch('true', { domain: 'nostore', config: { mounts: ['/etc'] } }),
  );
  t.is(slugOf(hostPath), 'generic-bad-request');
  t.is(
    Number(
      (
        (await stack.database
          .db('sessions')
          .where({ access_key: confined.accessKey })
          .count('* as n')
          .first()) as { n: string }
      ).n,
    ),
    0,
  );
});

test('every error slug of BACKENDAI-API.md is reached by a real request', async (t) => {
  const slugs = new Map<string, number>();
  const note = (a: { status: number; body: unknown; headers: Headers }) => {
    t.is(a.headers.get('content-type'), 'application/problem+json');
    slugs.set(slugOf(a as never), a.status);
  };
  note(await call(user.client, 'POST', '/session', { image: 42 }));
  await call(user.client, 'POST', '/session', batch('true', { name: 'slug-live', starts_at: FAR }));
  note(
    await call(user.client, 'POST', '/session', batch('true', { name: 'slug-live', reuseIfExists: false })),
  );
  note(
    await call(user.client, 'GET', '/session/slug-live', undefined, undefined, {
      Authorization: 'BackendAI nonsense',
    }),
  );
  note(
    await call(user.client, 'GET', '/session/slug-live', undefined, undefined, {
      Authorization: 'Bearer bai_not-a-token',
    }),
  );
  note(await call(user.client, 'GET', '/keypairs'));
  note(
    await call(user.client, 'GET', '/session/slug-live', undefined, {
      owner_access_key: stack.database.admin.accessKey,
    }),
  );
  note(await call(user.client, 'GET', '/session/no-such-session'));
  note(
    await call(user.client, 'POST', '/session', {
      image: 'python',
      type: 'batch',
      startupCommand: 'true',
      enqueueOnly: true,
      config: { environ: { X: 'y'.repeat(300 * 1024) } },
    }),
  );
  // Two sessions whose ids share a prefix: the prefix is ambiguous.
  const live = (await stack.database.db('sessions').where({ name: 'slug-live' }).first()) as { id: string };
  const twin = `${live.id.slice(0, 8)}-0000-4000-8000-000000000000`;
  await stack.database.db.raw(
    `INSERT INTO sessions SELECT (jsonb_populate_record(NULL::sessions, to_jsonb(s) || jsonb_build_object('id', ?::text, 'name', 'slug-twin', 'status', 'CANCELLED'))).* FROM sessions s WHERE id = ?`,
    [twin, live.id],
  );
  note(await call(user.client, 'GET', `/session/${live.id.slice(0, 8)}`));
  const limited = await makeKeypair(stack, { rate_limit: 1 });
  await call(limited.client, 'GET', '/keypairs/me');
  note(await call(limited.client, 'GET', '/keypairs/me'));
  await call(stack.client, 'POST', '/resource-policies', {
    name: 'zero-pending',
    max_pending_session_count: 0,
  });
  const noPending = await makeKeypair(stack, { resource_policy: 'zero-pending' });
  note(await call(noPending.client, 'POST', '/session', batch('true')));
  note(
    await call(user.client, 'POST', '/session', {
      ...batch('true'),
      owner_access_key: stack.database.admin.accessKey,
    }),
  );

  t.deepEqual(Object.fromEntries([...slugs].sort()), {
    'auth-failed': 401,
    'generic-bad-request': 400,
    'generic-forbidden': 403,
    'insufficient-privilege': 403,
    'invalid-auth-params': 400,
    'object-not-found': 404,
    'payload-too-large': 413,
    'quota-exceeded': 400,
    'session-already-exists': 400,
    'too-many-requests': 429,
    'too-many-sessions-matched': 404,
  });
  await call(user.client, 'DELETE', '/session/slug-live');
});

test('the archived Python client (22.03, v6.20220315) negotiates, creates with its full body, reads and destroys', async (t) => {
  const [hello, signedHello, created, dup, info, history, logs, destroyed, missing] = await python(user, [
    { method: 'GET', path: '/', unsigned: true },
    { method: 'GET', path: '/' },
    {
      method: 'POST',
      path: '/session',
      body: {
        tag: null,
        enqueueOnly: false,
        maxWaitSeconds: 0,
        reuseIfExists: true,
        startupCommand: 'python3 -c "print(6*7)"',
        owner_access_key: null,
        config: {
          mounts: null,
          environ: null,
          resources: {},
          resource_opts: {},
          scalingGroup: null,
          mount_map: {},
          preopen_ports: null,
        },
        clusterSize: 1,
        clusterMode: 'single-node',
        starts_at: null,
        bootstrap_script: null,
        dependencies: null,
        callback_url: null,
        image: 'python',
        domain: 'default',
        group: 'default',
        type: 'batch',
        name: 'py-client-job',
      },
    },
    {
      method: 'POST',
      path: '/session/_/create',
      body: {
        image: 'python',
        type: 'batch',
        name: 'py-client-job',
        startupCommand: 'true',
        enqueueOnly: true,
        tag: null,
      },
    },
    { method: 'GET', path: `/session/py-client-job?owner_access_key=${user.accessKey}` },
    { method: 'GET', path: '/session/py-client-job/status-history' },
    { method: 'GET', path: '/session/py-client-job/logs' },
    { method: 'DELETE', path: '/session/py-client-job?forced=true' },
    { method: 'GET', path: '/session/not-there' },
  ]);
  t.is(hello!.status, 200);
  t.regex(String(hello!.body.version), /^v\d+\.\d{8}$/);
  t.truthy(hello!.body.manager);
  t.is(signedHello!.status, 200);
  t.regex(String(created!.date), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
  t.is(created!.status, 201, JSON.stringify(created!.body));
  t.true(['RUNNING', 'TERMINATING', 'TERMINATED'].includes(String(created!.body.status)));
  t.is(dup!.status, 201);
  t.is(info!.status, 200);
  t.is(info!.body.sessionName, 'py-client-job');
  t.is(history!.status, 200);
  t.truthy((history!.body.result as Record<string, string>).PENDING);
  t.is(logs!.status, 200);
  t.is(destroyed!.status, 200);
  t.is(missing!.status, 404);
  t.is(missing!.contentType, 'application/problem+json');
  const done = await waitForStatus(user.client, 'py-client-job');
  t.is(done.sessionName, 'py-client-job');
  // After the end, by name, as the client does: info and logs of the newest session of that name.
  const [after, afterLogs] = await python(user, [
    { method: 'GET', path: '/session/py-client-job' },
    { method: 'GET', path: '/session/py-client-job/logs' },
  ]);
  t.is(after!.status, 200);
  t.true(['TERMINATED', 'CANCELLED'].includes(String(after!.body.status)));
  t.is(afterLogs!.status, 200);
});

test('the Python client signing a finished job: logs hold its output and the exit code is kept', async (t) => {
  const [created] = await python(user, [
    {
      method: 'POST',
      path: '/session',
      body: {
        image: 'python',
        type: 'batch',
        name: 'py-exit',
        startupCommand: 'python3 -c "print(42); raise SystemExit(3)"',
        enqueueOnly: true,
        tag: null,
        starts_at: null,
        config: { environ: null, mounts: null },
      },
    },
  ]);
  t.is(created!.status, 201);
  const s = await waitForStatus(user.client, 'py-exit');
  t.is(s.exitCode, 3);
  t.is(s.result, 'FAILURE');
  const [logs] = await python(user, [{ method: 'GET', path: '/session/py-exit/logs' }]);
  t.is((logs!.body.result as { logs: string }).logs, '42\n');
});

test('max_concurrent_sessions: the excess waits PENDING with the failed predicate in statusData, then runs', async (t) => {
  await call(stack.client, 'POST', '/resource-policies', {
    name: 'one-at-a-time',
    max_concurrent_sessions: 1,
  });
  const kp = await makeKeypair(stack, { resource_policy: 'one-at-a-time' });
  const a = await call<{ sessionId: string }>(
    kp.client,
    'POST',
    '/session',
    batch('sleep 600', { name: 'conc-a' }),
  );
  await waitForStatus(kp.client, a.body.sessionId, ['RUNNING']);
  await call(kp.client, 'POST', '/session', batch('echo b', { name: 'conc-b' }));
  let waiting: SessionWire | null = null;
  await holdsWithin(
    async () => {
      const s = (await call<SessionWire>(kp.client, 'GET', '/session/conc-b')).body;
      if (s.status === 'PENDING' && JSON.stringify(s.statusData).includes('keypair_concurrency')) waiting = s;
      return waiting !== null;
    },
    { intervalMs: 50 },
  );
  t.truthy(waiting, 'conc-b never showed the concurrency predicate');
  // conc-a runs until b was seen waiting (a fixed sleep could end first on a loaded machine).
  t.is((await call(kp.client, 'DELETE', '/session/conc-a')).status, 200);
  const b = await waitForStatus(kp.client, 'conc-b');
  t.is(b.result, 'SUCCESS');
  const aEnd = await waitForStatus(kp.client, 'conc-a');
  t.true(Date.parse(String(b.startedAt)) >= Date.parse(String(aEnd.terminationTime)) - 1000);
});
