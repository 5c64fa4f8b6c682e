import test from 'ava';
import { parseCreateSessionBody } from '../../src/domain/session-request.js';
import { InvalidRequest } from '../../src/domain/errors.js';
import { mountAsks } from '../../src/domain/mount-request.js';
import { mergeCreateOverrides, templateToCreateBody } from '../../src/domain/session-template.js';

const now = new Date('2026-09-01T00:00:00Z');

test('camelCase and snake_case fold into one request', (t) => {
  const a = parseCreateSessionBody(
    {
      name: 'job-1',
      image: 'python',
      sessionType: 'batch',
      startupCommand: 'true',
      enqueueOnly: true,
      clusterSize: 2,
      config: { scalingGroup: 'g', mountMap: { d: 'x' } },
    },
    now,
  );
  const b = parseCreateSessionBody(
    {
      session_name: 'job-1',
      image: 'python',
      session_type: 'batch',
      startup_command: 'true',
      enqueue_only: true,
      cluster_size: 2,
      config: { scaling_group: 'g', mount_map: { d: 'x' } },
    },
    now,
  );
  t.deepEqual(a, b);
  t.is(a.type, 'batch');
  t.is(a.clusterSize, 2);
  t.deepEqual(a.mounts, ['d']);
});

test('the archived Python client body, with nulls for every unset field, is accepted', (t) => {
  const r = parseCreateSessionBody(
    {
      tag: null,
      clientSessionToken: 'job-2',
      image: 'python',
      type: 'batch',
      starts_at: '10min',
      enqueueOnly: false,
      maxWaitSeconds: 0,
      reuseIfExists: true,
      startupCommand: 'echo hi',
      owner_access_key: null,
      domain: 'default',
      group: 'default',
      bootstrap_script: null,
      dependencies: null,
      callback_url: null,
      clusterSize: 1,
      clusterMode: 'single-node',
      config: {
        mounts: null,
        environ: null,
        scalingGroup: null,
        resources: {},
        resource_opts: {},
        mount_map: {},
        preopen_ports: null,
      },
    },
    now,
  );
  t.is(r.name, 'job-2');
  t.is(r.startsAt?.toISOString(), '2026-09-01T00:10:00.000Z');
  t.deepEqual(r.dependencies, []);
});

test('a batch session without a startup command is refused', (t) => {
  const e = t.throws(() => parseCreateSessionBody({ image: 'python', type: 'batch' }, now), {
    instanceOf: InvalidRequest,
  });
  t.regex(e!.message, /startup_command/);
});

test('starts_at and batch_timeout are for batch sessions only', (t) => {
  t.throws(() => parseCreateSessionBody({ image: 'python', starts_at: '1h' }, now), {
    instanceOf: InvalidRequest,
  });
  t.throws(() => parseCreateSessionBody({ image: 'python', batch_timeout: '1h' }, now), {
    instanceOf: InvalidRequest,
  });
});

test('bad names, types and values say which field', (t) => {
  const cases: [unknown, RegExp][] = [
    [{ image: 'python', name: 'a' }, /name/],
    [{ image: 'python', name: 'bad name!' }, /name/],
    [{ image: 42 }, /image/],
    [{ image: 'python', type: 'weird' }, /type/],
    [{ image: 'python', priority: 101 }, /priority/],
    [{ image: 'python', clusterSize: 0 }, /cluster_size/],
    [{ image: 'python', config: { environ: { 'BAD-NAME': 'x' } } }, /environ/],
    [{ image: 'python', config: { environ: { K: { nested: 1 } } } }, /environ/],
    [{ image: 'python', callback_url: 'ftp://x' }, /callback_url/],
    [{ image: 'python', dependencies: 'abc' }, /dependencies/],
    [[1, 2], /object/],
    [null, /object/],
  ];
  for (const [body, re] of cases) {
    const e = t.throws(() => parseCreateSessionBody(body, now), { instanceOf: InvalidRequest });
    t.regex(e!.message, re);
  }
});

test('retry policy defaults', (t) => {
  const r = parseCreateSessionBody(
    { image: 'python', type: 'batch', startupCommand: 'x', retry: { max_attempts: 3 } },
    now,
  );
  t.deepEqual(r.retry, {
    maxAttempts: 3,
    backoff: 'exponential',
    delaySeconds: 1,
    on: ['agent-lost', 'image-pull-failed'],
  });
});

const FID = '0b7c4f3e-8a1d-4c2e-9f00-1234567890ab';

function mountsOf(config: Record<string, unknown>) {
  return mountAsks(parseCreateSessionBody({ image: 'python', config }, now));
}

test('mount_options (permission or perm, both spellings) make a folder read-only', (t) => {
  t.deepEqual(mountsOf({ mounts: ['d'], mount_options: { d: { permission: 'ro' } } }), [
    { ref: { kind: 'name', name: 'd' }, mode: 'ro', target: undefined, field: 'config.mounts' },
  ]);
  t.is(mountsOf({ mounts: ['d'], mountOptions: { d: { perm: 'ro' } } })[0]!.mode, 'ro');
  t.is(mountsOf({ mounts: ['d'], mount_options: { d: { perm: 'wd' } } })[0]!.mode, 'rw');
  t.is(mountsOf({ mounts: ['d:ro'] })[0]!.mode, 'ro');
  t.is(mountsOf({ mounts: ['d'] })[0]!.mode, null);
  const dest = mountsOf({
    mounts: ['d'],
    mount_options: { d: { mount_destination: '/data', type: 'bind' } },
  });
  t.is(dest[0]!.target, '/data');
  // Null options ask for nothing.
  t.is(mountsOf({ mounts: ['d'], mount_options: { d: { permission: 'ro', subpath: null } } })[0]!.mode, 'ro');
});

test('mount_ids (and ids in mounts, mount_id_map, mount_options keyed by id) name folders by id', (t) => {
  const asks = mountsOf({
    mount_ids: [FID],
    mount_id_map: { [FID]: '/in' },
    mount_options: { [FID]: { permission: 'ro' } },
  });
  t.deepEqual(asks, [{ ref: { kind: 'id', id: FID }, mode: 'ro', target: '/in', field: 'config.mount_ids' }]);
  t.deepEqual(mountsOf({ mounts: [FID] })[0]!.ref, { kind: 'id', id: FID });
  t.deepEqual(mountsOf({ mountIdMap: { [FID]: '/x' } })[0]!.target, '/x');
});

test('what bai cannot honour in a mount is a 400 naming the field', (t) => {
  const refused: [Record<string, unknown>, string][] = [
    [{ mounts: ['d'], mount_options: { e: { permission: 'ro' } } }, 'config.mount_options.e'],
    [{ mounts: ['d'], mount_options: { d: { permission: 'rx' } } }, 'config.mount_options.d.permission'],
    [{ mounts: ['d'], mount_options: { d: { perm: 'rx' } } }, 'config.mount_options.d.perm'],
    [{ mounts: ['d'], mount_options: { d: { subpath: 'a/b' } } }, 'config.mount_options.d.subpath'],
    [{ mounts: ['d'], mount_options: { d: { type: 'tmpfs' } } }, 'config.mount_options.d.type'],
    [{ mounts: ['d'], mount_options: { d: { color: 'red' } } }, 'config.mount_options.d.color'],
    [{ mounts: ['d'], mount_options: { d: 'ro' } }, 'config.mount_options.d'],
    [{ mounts: ['d:rw'], mount_options: { d: { permission: 'ro' } } }, 'config.mount_options.d.permission'],
    [{ mounts: ['d'], mount_options: { d: { permission: 'ro', perm: 'rw' } } }, 'config.mount_options.d'],
    [{ mount_ids: ['not-a-uuid'] }, 'config.mount_ids'],
    [{ mount_id_map: { x: '/y' } }, 'config.mount_id_map'],
    [{ mount_ids: [FID], mounts: [FID] }, 'config.mount_ids'],
    [{ mounts: ['d', 'd:ro'] }, 'config.mounts'],
    [{ mounts: ['d'], mount_options: { d: { mount_destination: '/etc' } } }, '/etc'],
  ];
  for (const [config, field] of refused) {
    const err = t.throws(() => mountsOf(config), { instanceOf: InvalidRequest }, JSON.stringify(config));
    t.true(err?.message.includes(field), `${err?.message} should name ${field}`);
  }
  // Null and empty values ask for nothing.
  t.deepEqual(mountsOf({ mounts: null, mount_ids: null, mount_options: null, mount_id_map: {} }), []);
});

const minimal = { name: 'job-1', image: 'python', type: 'batch', startupCommand: 'true' };

test('architecture (or arch) is folded into Backend.AI names; absent or null: any', (t) => {
  t.is(parseCreateSessionBody(minimal, now).architecture, null);
  t.is(parseCreateSessionBody({ ...minimal, architecture: null }, now).architecture, null);
  t.is(parseCreateSessionBody({ ...minimal, architecture: 'x86_64' }, now).architecture, 'x86_64');
  t.is(parseCreateSessionBody({ ...minimal, arch: 'arm64' }, now).architecture, 'aarch64');
  t.is(parseCreateSessionBody({ ...minimal, architecture: 'AMD64' }, now).architecture, 'x86_64');
  t.throws(() => parseCreateSessionBody({ ...minimal, architecture: 'x86 64' }, now), {
    instanceOf: InvalidRequest,
    message: /^architecture must be/,
  });
});

test('fields bai cannot honour: null or empty accepted, a value is a 400 naming the field', (t) => {
  const fields: [string, unknown, string][] = [
    ['preopen_ports', [8080], 'config.preopen_ports'],
    ['preopenPorts', [8080], 'config.preopen_ports'],
    ['agentList', ['i-agent'], 'config.agent_list'],
    ['agent_list', ['i-agent'], 'config.agent_list'],
    ['attach_network', '9e0c2a4e-7f1d-4a43-9b57-5d6f0a1b2c3d', 'config.attach_network'],
    ['instanceMemory', '1g', 'config.instanceMemory'],
    ['instanceCores', 2, 'config.instanceCores'],
    ['instanceGPUs', 1, 'config.instanceGPUs'],
    ['instanceTPUs', 1, 'config.instanceTPUs'],
  ];
  for (const [key, value, field] of fields) {
    for (const empty of [null, [], undefined]) {
      t.notThrows(() => parseCreateSessionBody({ ...minimal, config: { [key]: empty } }, now), key);
    }
    const e = t.throws(() => parseCreateSessionBody({ ...minimal, config: { [key]: value } }, now), {
      instanceOf: InvalidRequest,
    });
    t.true(e!.message.startsWith(`${field} is not supported`), e!.message);
    t.deepEqual(e!.data, { field });
  }
});

test('preemption fields are checked and accepted (bai never preempts); config.clusterSize of old clients counts', (t) => {
  t.notThrows(() => parseCreateSessionBody({ ...minimal, is_preemptible: false, job_priority: 5 }, now));
  t.throws(() => parseCreateSessionBody({ ...minimal, is_preemptible: 'maybe' }, now), {
    message: 'is_preemptible must be true or false.',
  });
  t.is(parseCreateSessionBody({ ...minimal, config: { clusterSize: 3 } }, now).clusterSize, 3);
  t.is(
    parseCreateSessionBody({ ...minimal, clusterSize: 2, config: { clusterSize: 3 } }, now).clusterSize,
    2,
  );
});

test('the parser and template overrides read the same spellings (one alias table)', (t) => {
  const template = templateToCreateBody(
    {
      api_version: '6',
      kind: 'taskTemplate',
      metadata: { name: 't', tag: null },
      spec: {
        session_type: 'interactive',
        kernel: { image: 'python', architecture: null, environ: {}, run: null },
        scaling_group: null,
        mounts: { data: '/data' },
        resources: null,
      },
    },
    { domain: 'default', group: null },
  );
  const id = '0b4c1a4e-3f5d-4c8e-9a1b-2c3d4e5f6a7b';
  // config.mountIds (camelCase) replaces the template's mounts, as config.mount_ids does.
  const merged = parseCreateSessionBody(mergeCreateOverrides(template, { config: { mountIds: [id] } }), now);
  t.deepEqual(merged.mounts, []);
  t.deepEqual(merged.mountMap, {});
  t.deepEqual(merged.mountIds, [id]);
  // sess_type is read by the parser and replaces the template's type.
  const body = { sess_type: 'batch', startup_command: 'true' };
  t.is(parseCreateSessionBody({ image: 'python', ...body }, now).type, 'batch');
  t.is(parseCreateSessionBody(mergeCreateOverrides(template, body), now).type, 'batch');
});
