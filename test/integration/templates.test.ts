import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { call, makeKeypair, slugOf, type TestKeypair } from '../helpers/api.js';
import { bai } from '../helpers/cli.js';
import { startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * Session templates (Backend.AI's task templates): stored, listed, used with the request's
 * fields over them, deleted; a template is its owner's (and its domain admins') only.
 */

let stack: TestStack;
let a: TestKeypair;
let b: TestKeypair;
let dir: string;

const COMMAND = 'echo "G=$GREETING"; test -d /home/work/tdata && echo MOUNTED || echo NOMOUNT';
const TEMPLATE = `api_version: '6'
kind: taskTemplate
metadata:
  name: greeter
  tag: from-template
spec:
  session_type: batch
  kernel:
    image: python
    environ:
      GREETING: hello
    run:
      startup_command: '${COMMAND}'
  mounts:
    tdata:
  resources:
    cpu: '1'
`;

test.before(async () => {
  stack = await startTestStack({ agents: 1 });
  a = await makeKeypair(stack);
  b = await makeKeypair(stack);
  dir = mkdtempSync(join(tmpdir(), 'bai-templates-'));
  const f = await call(a.client, 'POST', '/folders', { name: 'tdata' });
  if (f.status !== 201) throw new Error(`folder: ${f.status} ${JSON.stringify(f.body)}`);
});
test.after.always(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  await stack?.close();
});

const asA = () => ({ env: { BACKEND_ACCESS_KEY: a.accessKey, BACKEND_SECRET_KEY: a.secretKey } });

async function createTemplate(kp: TestKeypair, payload: string): Promise<string> {
  const r = await call<{ id: string; user: string }[]>(kp.client, 'POST', '/template/session', { payload });
  if (r.status !== 200) throw new Error(`template: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body[0]!.id;
}

async function logsOf(kp: TestKeypair, sessionId: string): Promise<string> {
  const r = await call<{ result: { logs: string } }>(kp.client, 'GET', `/session/${sessionId}/logs`);
  return r.body.result.logs;
}

test.serial('create, list and get a template; used as stored it runs with its env and mounts', async (t) => {
  const made = await call<{ id: string; user: string }[]>(a.client, 'POST', '/template/session', {
    payload: TEMPLATE,
    group: 'default',
  });
  t.is(made.status, 200, JSON.stringify(made.body));
  t.is(made.body.length, 1);
  t.is(made.body[0]!.user, a.accessKey);
  const id = made.body[0]!.id;

  const list = await call<{ id: string; name: string; is_owner: boolean; template: { kind: string } }[]>(
    a.client,
    'GET',
    '/template/session',
  );
  t.is(list.status, 200);
  t.like(
    list.body.find((x) => x.id === id),
    { name: 'greeter', is_owner: true, template: { kind: 'taskTemplate' } },
  );
  const got = await call<{ template: { spec: { kernel: { environ: Record<string, string> } } } }>(
    a.client,
    'GET',
    `/template/session/${id}`,
  );
  t.is(got.status, 200);
  t.deepEqual(got.body.template.spec.kernel.environ, { GREETING: 'hello' });
  const yaml = await call(a.client, 'GET', `/template/session/${id.replace(/-/g, '')}`, undefined, {
    format: 'yaml',
  });
  t.is(yaml.status, 200);
  t.regex(String(yaml.body), /kind: taskTemplate/);

  const s = await call<{ sessionId: string }>(a.client, 'POST', '/session/_/create-from-template', {
    template_id: id,
    enqueueOnly: true,
  });
  t.is(s.status, 201, JSON.stringify(s.body));
  const info = await waitForStatus(a.client, s.body.sessionId, ['TERMINATED', 'CANCELLED', 'ERROR']);
  t.is(info.exitCode, 0, info.statusInfo ?? '');
  t.is(info.tag, 'from-template');
  t.is(info.type, 'batch');
  const logs = await logsOf(a, s.body.sessionId);
  t.regex(logs, /G=hello/);
  t.regex(logs, /MOUNTED/);
});

test.serial('request fields replace the template; empty ones drop its env and mounts', async (t) => {
  const id = await createTemplate(a, TEMPLATE);
  // The wire form of --no-env and --no-mount, with another name and tag.
  const s = await call<{ sessionId: string }>(a.client, 'POST', '/session/_/create-from-template', {
    template_id: id,
    name: 'from-tpl-1',
    tag: 'overridden',
    enqueueOnly: true,
    config: { environ: {}, mounts: [], mount_map: {} },
  });
  t.is(s.status, 201, JSON.stringify(s.body));
  const info = await call<SessionWire>(a.client, 'GET', `/session/${s.body.sessionId}`);
  t.is(info.body.sessionName, 'from-tpl-1');
  t.is(info.body.tag, 'overridden');
  t.deepEqual(info.body.environ, {});
  t.deepEqual(info.body.mounts, []);
  await waitForStatus(a.client, s.body.sessionId, ['TERMINATED', 'CANCELLED', 'ERROR']);

  // The CLI: -e and -c replace, --no-mount drops; --wait exits with the job's exit code.
  const r = await bai(
    stack,
    [
      'session',
      'create-from-template',
      id,
      '-e',
      'GREETING=bye',
      '-c',
      `${COMMAND}; exit 3`,
      '--no-mount',
      '--wait',
      '--json',
    ],
    asA(),
  );
  t.is(r.code, 3, r.stderr);
  const done = JSON.parse(r.stdout) as SessionWire;
  t.is(done.exitCode, 3);
  t.deepEqual(done.environ, { GREETING: 'bye' });
  const logs = await logsOf(a, done.sessionId);
  t.regex(logs, /G=bye/);
  t.regex(logs, /NOMOUNT/);
});

test.serial("another keypair sees none of A's templates (404); admins of the domain do", async (t) => {
  const id = await createTemplate(a, TEMPLATE);
  const listB = await call<{ id: string }[]>(b.client, 'GET', '/template/session');
  t.is(listB.status, 200);
  t.false(listB.body.some((x) => x.id === id));
  for (const [method, path, body] of [
    ['GET', `/template/session/${id}`, undefined],
    ['PUT', `/template/session/${id}`, { payload: TEMPLATE }],
    ['DELETE', `/template/session/${id}`, undefined],
    ['POST', '/session/_/create-from-template', { template_id: id, enqueueOnly: true }],
  ] as const) {
    const r = await call(b.client, method, path, body);
    t.is(r.status, 404, `${method} ${path}`);
    t.is(slugOf(r), 'object-not-found');
  }
  const admin = await makeKeypair(stack, { role: 'admin' });
  t.is((await call(admin.client, 'GET', `/template/session/${id}`)).status, 200);
  t.is((await call(stack.client, 'GET', `/template/session/${id}`)).status, 200);
  // Still there for A after B's attempts.
  t.is((await call(a.client, 'GET', `/template/session/${id}`)).status, 200);
  t.is((await call(b.client, 'GET', '/template/session', undefined, { all: 'true' })).status, 403);
});

test.serial('bad templates and requests are 400s naming the field', async (t) => {
  const cases: [unknown, string][] = [
    [{ payload: TEMPLATE.replace('taskTemplate', 'clusterTemplate') }, 'payload.kind'],
    [{ payload: TEMPLATE.replace('session_type: batch', 'session_type: inference') }, 'spec.session_type'],
    [{ payload: TEMPLATE.replace('    image: python\n', '') }, 'spec.kernel.image'],
    [{ payload: TEMPLATE.replace('  resources:', '  agent_list: [i-1]\n  resources:') }, 'spec.agent_list'],
    [{ payload: 'a: [b' }, 'payload'],
    [{}, 'payload'],
  ];
  for (const [body, field] of cases) {
    const r = await call<{ msg: string }>(a.client, 'POST', '/template/session', body);
    t.is(r.status, 400, field);
    t.true(r.body.msg.includes(field), `${field}: ${r.body.msg}`);
  }
  const none = await call<{ msg: string }>(a.client, 'POST', '/session/_/create-from-template', {});
  t.is(none.status, 400);
  t.regex(none.body.msg, /template_id/);
  const missing = await call(a.client, 'POST', '/session/_/create-from-template', {
    template_id: '00000000-0000-4000-8000-000000000000',
  });
  t.is(missing.status, 404);
});

test.serial('the session-template commands: create, list, get, update, delete', async (t) => {
  const file = join(dir, 'greeter.yaml');
  writeFileSync(file, TEMPLATE);
  const made = await bai(stack, ['session-template', 'create', '-f', file, '--json'], asA());
  t.is(made.code, 0, made.stderr);
  const id = (JSON.parse(made.stdout) as { id: string }[])[0]!.id;

  const list = await bai(stack, ['session-template', 'list', '--json'], asA());
  t.is(list.code, 0, list.stderr);
  t.true((JSON.parse(list.stdout) as { id: string }[]).some((x) => x.id === id));
  const asYaml = await bai(stack, ['sesstpl', 'get', id], asA());
  t.is(asYaml.code, 0, asYaml.stderr);
  t.regex(asYaml.stdout, /name: greeter/);

  writeFileSync(file, TEMPLATE.replace('name: greeter', 'name: greeter2'));
  const updated = await bai(stack, ['session-template', 'update', id, '-f', file], asA());
  t.is(updated.code, 0, updated.stderr);
  const got = await bai(stack, ['session-template', 'get', id, '--json'], asA());
  t.is((JSON.parse(got.stdout) as { name: string }).name, 'greeter2');

  const gone = await bai(stack, ['session-template', 'delete', id, '-f'], asA());
  t.is(gone.code, 0, gone.stderr);
  const after = await bai(stack, ['session-template', 'get', id], asA());
  t.is(after.code, 1);
  t.regex(after.stderr, /object-not-found/);
  const listAfter = await call<{ id: string }[]>(a.client, 'GET', '/template/session');
  t.false(listAfter.body.some((x) => x.id === id));
  const use = await call(a.client, 'POST', '/session/_/create-from-template', { template_id: id });
  t.is(use.status, 404);
});
