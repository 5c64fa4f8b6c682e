import test from 'ava';
import { call, makeKeypair, openSse, slugOf, type TestKeypair } from '../helpers/api.js';
import { createSchedule, job, runsOf } from '../helpers/schedules.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let alice: TestKeypair;
let bob: TestKeypair;
test.before(async () => {
  stack = await startTestStack();
  alice = await makeKeypair(stack);
  bob = await makeKeypair(stack);
});
test.after.always(async () => {
  await stack?.close();
});

// Instants far away: these tests drive schedules by hand (trigger, PATCH), never by the clock.
const YEARLY = { cron: '0 0 1 1 *' };

test('bad input is 400 invalid-schedule naming the field', async (t) => {
  const cases: [Record<string, unknown>, string][] = [
    [{ name: 'b1', cron: '61 * * * *', session: job('true') }, 'cron'],
    [{ name: 'b2', cron: '* * *', session: job('true') }, 'cron'],
    [{ name: 'b3', cron: '@daily', timezone: 'Atlantis/Capital', session: job('true') }, 'timezone'],
    [
      { name: 'b4', cron: '@daily', concurrencyPolicy: 'Sometimes', session: job('true') },
      'concurrencyPolicy',
    ],
    [{ name: 'b5', cron: '@daily', session: { ...job('true'), name: 'mine' } }, 'session'],
    [{ name: 'b6', cron: '@daily' }, 'session'],
    [{ name: 'b7', cron: '@daily', template: 'no-such-template' }, 'template'],
    [
      { name: 'b8', cron: '@daily', session: job('true'), successfulHistoryLimit: -1 },
      'successfulHistoryLimit',
    ],
    [{ name: 'bad name!', cron: '@daily', session: job('true') }, 'name'],
  ];
  for (const [body, field] of cases) {
    const r = await call(alice.client, 'POST', '/schedules', body);
    t.is(r.status, 400, JSON.stringify(body));
    t.is(slugOf(r), 'invalid-schedule');
    t.deepEqual((r.body as { data?: unknown }).data, { field }, JSON.stringify(body));
  }
  const listed = await call<{ items: { name: string }[] }>(alice.client, 'GET', '/schedules');
  t.deepEqual(
    listed.body.items.filter((s) => /^b\d$/.test(s.name)),
    [],
    'none of them was stored',
  );
});

test('create, duplicate 409, view with next instants in its zone, list, patch, delete', async (t) => {
  // A keypair of its own: the other tests' schedules stay out of its listing.
  const alice = await makeKeypair(stack);
  const made = await createSchedule(alice.client, {
    name: 'berlin',
    cron: '0 3 * * *',
    timezone: 'Europe/Berlin',
    concurrency_policy: 'forbid',
    session: job('echo hi'),
  });
  t.like(made, {
    name: 'berlin',
    ownerAccessKey: alice.accessKey,
    domain: 'default',
    timezone: 'Europe/Berlin',
    concurrencyPolicy: 'Forbid',
    startingDeadlineSeconds: null,
    suspend: false,
    successfulHistoryLimit: 3,
    failedHistoryLimit: 1,
    lastRun: null,
    template: null,
  });
  t.regex(String(made.nextRunAt), /^\d{4}-\d\d-\d\dT0[12]:00:00\.000Z$/);

  const dup = await call(alice.client, 'POST', '/schedules', {
    name: 'berlin',
    ...YEARLY,
    session: job('true'),
  });
  t.is(dup.status, 409);
  t.is(slugOf(dup), 'schedule-exists');
  // Names are per keypair: Bob may use the same one.
  t.is(
    (await call(bob.client, 'POST', '/schedules', { name: 'berlin', ...YEARLY, session: job('true') }))
      .status,
    201,
  );

  const info = await call<{ nextInstants: string[]; runs: unknown[] }>(
    alice.client,
    'GET',
    '/schedules/berlin',
  );
  t.is(info.status, 200);
  t.is(info.body.nextInstants.length, 5);
  for (const at of info.body.nextInstants) t.regex(at, /T03:00:00\+0[12]:00$/);
  t.deepEqual(info.body.runs, []);

  const list = await call<{ items: { name: string; ownerAccessKey: string }[] }>(
    alice.client,
    'GET',
    '/schedules',
  );
  t.deepEqual(
    list.body.items.map((s) => [s.name, s.ownerAccessKey]),
    [['berlin', alice.accessKey]],
  );
  const all = await call<{ items: { ownerAccessKey: string }[] }>(
    stack.client,
    'GET',
    '/schedules',
    undefined,
    {
      all: 'true',
    },
  );
  const owners = new Set(all.body.items.map((s) => s.ownerAccessKey));
  t.true(
    owners.has(alice.accessKey) && owners.has(bob.accessKey),
    'an admin sees every keypair of the domain',
  );
  t.is((await call(alice.client, 'GET', '/schedules', undefined, { all: 'true' })).status, 403);

  const paused = await call(alice.client, 'PATCH', '/schedules/berlin', { suspend: true });
  t.like(paused.body, { suspend: true, nextRunAt: null });
  const resumed = await call(alice.client, 'PATCH', '/schedules/berlin', {
    suspend: false,
    cron: '0 4 * * *',
  });
  t.like(resumed.body, { suspend: false, cron: '0 4 * * *', concurrencyPolicy: 'Forbid' });
  t.regex(String((resumed.body as { nextRunAt: string }).nextRunAt), /T0[23]:00:00\.000Z$/);
  const badPatch = await call(alice.client, 'PATCH', '/schedules/berlin', { timezone: 'Nowhere' });
  t.is(badPatch.status, 400);
  t.is(slugOf(badPatch), 'invalid-schedule');

  t.is((await call(alice.client, 'DELETE', '/schedules/berlin')).status, 204);
  const gone = await call(alice.client, 'GET', '/schedules/berlin');
  t.is(gone.status, 404);
  t.is(slugOf(gone), 'schedule-not-found');
});

test("another user's schedule is 404; an admin reaches it with owner_access_key", async (t) => {
  await createSchedule(alice.client, { name: 'private', ...YEARLY, session: job('true') });
  for (const [method, path] of [
    ['GET', '/schedules/private'],
    ['PATCH', '/schedules/private'],
    ['DELETE', '/schedules/private'],
    ['POST', '/schedules/private/trigger'],
  ] as const) {
    const r = await call(bob.client, method, path, method === 'PATCH' ? { suspend: true } : undefined);
    t.is(r.status, 404, `${method} ${path}`);
    t.is(slugOf(r), 'schedule-not-found');
  }
  const asBob = await call(bob.client, 'GET', '/schedules/private', undefined, {
    owner_access_key: alice.accessKey,
  });
  t.is(asBob.status, 403, 'a user may not act for another keypair');
  const admin = await call(stack.client, 'GET', '/schedules/private', undefined, {
    owner_access_key: alice.accessKey,
  });
  t.is(admin.status, 200);
  t.is((await call(alice.client, 'GET', '/schedules/private')).status, 200);
});

test('trigger: a run now, its session carries scheduleName and scheduledFor everywhere', async (t) => {
  await createSchedule(alice.client, { name: 'manual', ...YEARLY, session: job('echo triggered') });
  const sse = await openSse(alice.client, { sessionName: '*' });
  const r = await call<{ sessionId: string; sessionName: string; scheduledFor: string }>(
    alice.client,
    'POST',
    '/schedules/manual/trigger',
  );
  t.is(r.status, 201);
  const at = new Date(r.body.scheduledFor);
  t.is(r.body.sessionName, `manual-${Math.floor(at.getTime() / 1000)}`);

  const info = await call<Record<string, unknown>>(alice.client, 'GET', `/session/${r.body.sessionId}`);
  t.like(info.body, { scheduleName: 'manual', scheduledFor: r.body.scheduledFor });
  const listed = await call<{ items: Record<string, unknown>[] }>(
    alice.client,
    'GET',
    '/sessions',
    undefined,
    {
      scheduleName: 'manual',
    },
  );
  t.deepEqual(
    listed.body.items.map((s) => [s.sessionId, s.scheduleName, s.scheduledFor]),
    [[r.body.sessionId, 'manual', r.body.scheduledFor]],
  );
  const none = await call<{ items: unknown[] }>(alice.client, 'GET', '/sessions', undefined, {
    scheduleName: 'other',
  });
  t.deepEqual(none.body.items, []);

  const ev = await sse.until((f) => f.data.sessionId === r.body.sessionId);
  t.like(ev.data, { scheduleName: 'manual', scheduledFor: r.body.scheduledFor });
  sse.close();

  const runs = await runsOf(stack.database.db, 'manual');
  t.deepEqual(
    runs.map((x) => [x.outcome, x.session_id, x.scheduled_for.toISOString()]),
    [['triggered', r.body.sessionId, r.body.scheduledFor]],
  );
  const view = await call<{ runs: { outcome: string; sessionId: string }[]; lastRun: { outcome: string } }>(
    alice.client,
    'GET',
    '/schedules/manual',
  );
  t.like(view.body.lastRun, { outcome: 'triggered', sessionId: r.body.sessionId });
  t.is(view.body.runs.length, 1);
});

test('a schedule from a session template, by name, with overrides', async (t) => {
  const payload = JSON.stringify({
    api_version: 'v1',
    kind: 'taskTemplate',
    metadata: { name: 'nightly-tpl' },
    spec: {
      session_type: 'batch',
      kernel: { image: 'python', run: { startup_command: 'echo from-template' } },
    },
  });
  const tpl = await call(alice.client, 'POST', '/template/session', { payload });
  t.is(tpl.status, 200);
  await createSchedule(alice.client, {
    name: 'from-tpl',
    ...YEARLY,
    template: 'nightly-tpl',
    overrides: { tag: 'scheduled' },
  });
  const r = await call<{ sessionId: string }>(alice.client, 'POST', '/schedules/from-tpl/trigger');
  t.is(r.status, 201);
  const info = await call<Record<string, unknown>>(alice.client, 'GET', `/session/${r.body.sessionId}`);
  t.like(info.body, { tag: 'scheduled', startupCommand: 'echo from-template', scheduleName: 'from-tpl' });
});
