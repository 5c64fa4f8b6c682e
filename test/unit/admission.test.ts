import test from 'ava';
import {
  bootstrapScriptFor,
  checkArchitecture,
  checkCapacity,
  checkDomain,
  checkGroupMembership,
  checkPendingLimit,
  checkPolicy,
  checkScalingGroup,
  checkScalingGroupAccess,
  checkStorageAllowed,
  clusterLayout,
  DEFAULT_SLOTS,
  knownSlots,
  labelSlots,
  resourceOptsFor,
  slotsFor,
  unknownDependency,
} from '../../src/domain/admission.js';
import { InvalidImageLabel, InvalidRequest, ObjectNotFound, QuotaExceeded } from '../../src/domain/errors.js';
import { placeSessions } from '../../src/domain/placement.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const known = new Set(['cpu', 'mem', 'cuda.device']);
const plain = { name: 'python:3.12', labels: {} };
const policy = {
  max_priority: 50,
  max_pending_session_count: 3,
  total_resource_slots: { cpu: 8, mem: 16 * GiB },
};

test('a request without resources gets the defaults', (t) => {
  t.deepEqual(slotsFor({}, plain, known), DEFAULT_SLOTS);
});

test('what the request asks replaces the defaults', (t) => {
  t.deepEqual(slotsFor({ cpu: '2', mem: '1g', 'cuda.device': 1 }, plain, known), {
    cpu: 2,
    mem: GiB,
    'cuda.device': 1,
  });
});

test("the image's minimum raises the defaults", (t) => {
  const image = { name: 'big', labels: { 'ai.backend.resource.min.mem': '512m', 'other.label': 'x' } };
  t.deepEqual(slotsFor({}, image, known), { cpu: 1, mem: 512 * MiB });
});

test('refused: an unknown slot or a bad amount in the request', (t) => {
  t.throws(() => slotsFor({ gpu: 1 }, plain, known), {
    instanceOf: InvalidRequest,
    message: /Unknown resource slot "gpu"/,
  });
  t.throws(() => slotsFor({ mem: 'lots' }, plain, known), {
    instanceOf: InvalidRequest,
    message: /resources\.mem/,
  });
  t.throws(() => slotsFor({ cpu: -1 }, plain, known), { instanceOf: InvalidRequest });
});

test("refused: below the image's minimum, above its maximum", (t) => {
  const image = {
    name: 'img',
    labels: { 'ai.backend.resource.min.mem': '512m', 'ai.backend.resource.max.cpu': '2' },
  };
  t.throws(() => slotsFor({ mem: '256m' }, image, known), {
    instanceOf: InvalidRequest,
    message: 'The image needs at least 512 MiB mem; asked 256 MiB.',
  });
  t.throws(() => slotsFor({ cpu: 4 }, image, known), {
    instanceOf: InvalidRequest,
    message: 'The image allows at most 2 cpu; asked 4.',
  });
  t.deepEqual(slotsFor({ cpu: 2 }, image, known), { cpu: 2, mem: 512 * MiB });
});

test('refused: no cpu, or less than 6 MiB of memory', (t) => {
  const msg = 'resources need cpu > 0 and mem of at least 6m.';
  t.throws(() => slotsFor({ cpu: 0 }, plain, known), { instanceOf: InvalidRequest, message: msg });
  t.throws(() => slotsFor({ mem: '5m' }, plain, known), { instanceOf: InvalidRequest, message: msg });
  t.notThrows(() => slotsFor({ mem: '6m' }, plain, known));
});

test('a bad image label is a visible error naming the image and the label', (t) => {
  for (const [label, value] of [
    ['ai.backend.resource.min.mem', 'lots'],
    ['ai.backend.resource.max.cpu', 'two'],
    ['ai.backend.resource.min.cuda.device', '-1'],
  ] as const) {
    const image = { name: 'reg/team/img:1', labels: { [label]: value } };
    const e = t.throws(() => slotsFor({}, image, known), { instanceOf: InvalidImageLabel });
    t.is(e!.code, 'invalid-image-label');
    t.is(e!.status, 400);
    t.deepEqual(e!.data, { image: 'reg/team/img:1', label, value });
    t.true(e!.message.includes('reg/team/img:1') && e!.message.includes(label), e!.message);
  }
});

test('image labels: any slot name is read, other labels are ignored', (t) => {
  const labels = {
    'ai.backend.resource.min.cpu': '0.5',
    'ai.backend.resource.min.tpu.device': '1',
    'ai.backend.resource.max.mem': '2g',
    'ai.backend.features': 'batch',
  };
  t.deepEqual(labelSlots('img', labels, 'min'), { cpu: 0.5, 'tpu.device': 1 });
  t.deepEqual(labelSlots('img', labels, 'max'), { mem: 2 * GiB });
});

test("resource options: shmem smaller than mem; Backend.AI's fragmentation flag; any other key named", (t) => {
  t.deepEqual(resourceOptsFor({}, { mem: GiB }), {});
  t.deepEqual(resourceOptsFor({ shmem: '64m', other: null }, { mem: GiB }), { shmem: 64 * MiB });
  t.deepEqual(resourceOptsFor({ allow_fractional_resource_fragmentation: false }, { mem: GiB }), {});
  t.throws(() => resourceOptsFor({ allow_fractional_resource_fragmentation: 'no' }, { mem: GiB }), {
    instanceOf: InvalidRequest,
    message: 'resource_opts.allow_fractional_resource_fragmentation must be true or false.',
  });
  const e = t.throws(() => resourceOptsFor({ ulimit: 1 }, { mem: GiB }), {
    instanceOf: InvalidRequest,
    message: 'resource_opts.ulimit is not supported; known: shmem, allow_fractional_resource_fragmentation.',
  });
  t.deepEqual(e?.data, { field: 'resource_opts.ulimit' });
  t.throws(() => resourceOptsFor({ shmem: '1g' }, { mem: GiB }), {
    instanceOf: InvalidRequest,
    message: 'resource_opts.shmem must be smaller than mem.',
  });
  t.throws(() => resourceOptsFor({ shmem: 'big' }, { mem: GiB }), { instanceOf: InvalidRequest });
});

test('refused: priority above the policy maximum', (t) => {
  t.throws(() => checkPolicy(policy, { priority: 51, slots: { cpu: 1 }, clusterSize: 1 }), {
    instanceOf: InvalidRequest,
    message: "priority 51 is above this keypair's maximum of 50.",
  });
  t.notThrows(() => checkPolicy(policy, { priority: 50, slots: { cpu: 1 }, clusterSize: 1 }));
});

test('refused: the whole session (every kernel) above the policy slots', (t) => {
  t.notThrows(() => checkPolicy(policy, { priority: 1, slots: { cpu: 4, mem: GiB }, clusterSize: 2 }));
  t.throws(() => checkPolicy(policy, { priority: 1, slots: { cpu: 4, mem: GiB }, clusterSize: 3 }), {
    instanceOf: QuotaExceeded,
    message: 'The session asks 12 cpu; the policy allows 8.',
  });
  t.throws(() => checkPolicy(policy, { priority: 1, slots: { cpu: 1, mem: 17 * GiB }, clusterSize: 1 }), {
    instanceOf: QuotaExceeded,
    message: 'The session asks 17 GiB mem; the policy allows 16 GiB.',
  });
});

test('refused: no agent of the group could ever hold the session', (t) => {
  const agents = [
    { id: 'a', total: { cpu: 4, mem: 8 * GiB } },
    { id: 'b', total: { cpu: 8, mem: 4 * GiB } },
  ];
  t.notThrows(() => checkCapacity('default', { cpu: 4, mem: 4 * GiB }, 1, agents));
  const e = t.throws(() => checkCapacity('default', { cpu: 4, mem: 4 * GiB }, 3, agents), {
    instanceOf: InvalidRequest,
  });
  t.regex(
    e!.message,
    /^No agent of scaling group "default" could ever hold this session: it asks 12 cpu, and the largest agent has 8\./,
  );
  t.deepEqual(e!.data, { slot: 'cpu', requested: 12, available: 8 });
  // No agent yet: the session waits for one to join.
  t.notThrows(() => checkCapacity('default', { cpu: 64 }, 1, []));
});

test('the slots a request may name: cpu, mem and what the agents declare', (t) => {
  t.deepEqual([...knownSlots([])], ['cpu', 'mem']);
  t.deepEqual(
    [...knownSlots([{ total: { cpu: 1, mem: 1, 'cuda.device': 2 } }])],
    ['cpu', 'mem', 'cuda.device'],
  );
});

test('refused: a domain other than the keypair’s, unless by a superadmin', (t) => {
  t.throws(() => checkDomain('other', 'default', false), {
    instanceOf: InvalidRequest,
    message: 'The keypair belongs to domain "default", not "other".',
  });
  t.notThrows(() => checkDomain('other', 'default', true));
  t.notThrows(() => checkDomain('default', 'default', false));
});

test('refused: an unknown scaling group', (t) => {
  t.throws(() => checkScalingGroup('gpu', false), {
    instanceOf: InvalidRequest,
    message: 'Unknown scaling group "gpu".',
  });
  t.notThrows(() => checkScalingGroup('gpu', true));
});

test('refused: the pending-session limit reached (null: no limit)', (t) => {
  t.notThrows(() => checkPendingLimit(policy, 2));
  t.throws(() => checkPendingLimit(policy, 3), {
    instanceOf: QuotaExceeded,
    message: 'This keypair already has 3 pending sessions, its limit.',
  });
  t.notThrows(() => checkPendingLimit({ max_pending_session_count: null }, 1e6));
});

test("refused: a storage folder outside the domain's allow-list", (t) => {
  t.notThrows(() => checkStorageAllowed(['data', 'x'], ['*'], 'default'));
  t.notThrows(() => checkStorageAllowed(['data'], ['data', 'models'], 'default'));
  t.throws(() => checkStorageAllowed(['data', 'secret'], ['data'], 'default'), {
    instanceOf: InvalidRequest,
    message: 'The storage folder "secret" is not allowed in domain "default".',
  });
  t.throws(() => checkStorageAllowed(['data'], [], 'default'), { instanceOf: InvalidRequest });
});

test('refused: a dependency that is not a session of the keypair', (t) => {
  const e = unknownDependency('build-1');
  t.true(e instanceof InvalidRequest);
  t.is(e.message, 'Dependency "build-1" is not a session of this keypair.');
});

test('cluster layout: main1, then sub1…', (t) => {
  t.deepEqual(clusterLayout(1), [{ cluster_role: 'main', cluster_idx: 1, cluster_hostname: 'main1' }]);
  t.deepEqual(
    clusterLayout(3).map((k) => [k.cluster_role, k.cluster_idx, k.cluster_hostname]),
    [
      ['main', 1, 'main1'],
      ['sub', 1, 'sub1'],
      ['sub', 2, 'sub2'],
    ],
  );
});

test('scaling-group access: open when it lists nobody, else to listed domains and keypairs', (t) => {
  const user = { accessKey: 'AK1', domain: 'd1', role: 'user' };
  t.notThrows(() => checkScalingGroupAccess('g', { domains: [], keypairs: [] }, user));
  t.notThrows(() => checkScalingGroupAccess('g', { domains: ['d1'], keypairs: [] }, user));
  t.notThrows(() => checkScalingGroupAccess('g', { domains: ['d2'], keypairs: ['AK1'] }, user));
  t.notThrows(() =>
    checkScalingGroupAccess('g', { domains: ['d2'], keypairs: [] }, { ...user, role: 'superadmin' }),
  );
  const e = t.throws(
    () => checkScalingGroupAccess('gpu', { domains: ['d2'], keypairs: ['AK2'] }, { ...user, role: 'admin' }),
    { instanceOf: ObjectNotFound },
  );
  t.is(e?.code, 'object-not-found');
  t.is(e?.status, 404);
  t.regex(e!.message, /"gpu"/);
});

test('group membership: default for all, others for members; admins any group', (t) => {
  t.notThrows(() => checkGroupMembership('default', { role: 'user', memberOf: [] }));
  t.notThrows(() => checkGroupMembership('team', { role: 'user', memberOf: ['team'] }));
  t.notThrows(() => checkGroupMembership('team', { role: 'admin', memberOf: [] }));
  t.notThrows(() => checkGroupMembership('team', { role: 'superadmin', memberOf: [] }));
  const e = t.throws(() => checkGroupMembership('team', { role: 'user', memberOf: ['other'] }), {
    instanceOf: InvalidRequest,
    message: 'Invalid group "team": the keypair is not a member of it.',
  });
  t.deepEqual(e?.data, { field: 'group', group: 'team' });
});

test('architecture: null or one an agent runs passes; none in the group is a 400 naming it', (t) => {
  const agents = [{ architecture: 'x86_64' }, { architecture: 'x86_64' }];
  t.notThrows(() => checkArchitecture('default', null, agents));
  t.notThrows(() => checkArchitecture('default', 'x86_64', agents));
  t.notThrows(() => checkArchitecture('empty', 'aarch64', []));
  const e = t.throws(() => checkArchitecture('default', 'aarch64', agents), {
    instanceOf: InvalidRequest,
    message: 'No agent of scaling group "default" runs architecture "aarch64" (they run x86_64).',
  });
  t.deepEqual(e?.data, { field: 'architecture', architecture: 'aarch64' });
});

test('placement puts a session only on an agent of its architecture', (t) => {
  const agents = [
    { id: 'x', total: { cpu: 4 }, occupied: {}, architecture: 'x86_64' },
    { id: 'a', total: { cpu: 4 }, occupied: {}, architecture: 'aarch64' },
  ];
  const d = placeSessions(
    [
      { sessionId: 's1', need: { cpu: 3 }, architecture: 'aarch64' },
      { sessionId: 's2', need: { cpu: 3 }, architecture: 'aarch64' },
      { sessionId: 's3', need: { cpu: 1 }, architecture: null },
    ],
    agents,
  );
  t.deepEqual(d, [
    { sessionId: 's1', agentId: 'a' },
    // s2 waits and reserves the aarch64 agent; s3 (any architecture) takes the other one.
    { sessionId: 's3', agentId: 'x' },
  ]);
});

test("bootstrap script: the request's, else the keypair's", (t) => {
  t.is(bootstrapScriptFor('echo mine', 'echo kp'), 'echo mine');
  t.is(bootstrapScriptFor(null, 'echo kp'), 'echo kp');
  t.is(bootstrapScriptFor('', 'echo kp'), 'echo kp');
  t.is(bootstrapScriptFor(null, null), null);
  t.is(bootstrapScriptFor(null, ''), null);
});
