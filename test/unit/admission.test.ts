import test from 'ava';
import {
  checkCapacity,
  checkDomain,
  checkPendingLimit,
  checkPolicy,
  checkScalingGroup,
  checkStorageAllowed,
  clusterLayout,
  DEFAULT_SLOTS,
  knownSlots,
  labelSlots,
  resourceOptsFor,
  slotsFor,
  unknownDependency,
} from '../../src/domain/admission.js';
import { InvalidImageLabel, InvalidRequest, QuotaExceeded } from '../../src/domain/errors.js';

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

test('resource options: shmem only, smaller than mem', (t) => {
  t.deepEqual(resourceOptsFor({}, { mem: GiB }), {});
  t.deepEqual(resourceOptsFor({ shmem: '64m', other: null }, { mem: GiB }), { shmem: 64 * MiB });
  t.throws(() => resourceOptsFor({ ulimit: 1 }, { mem: GiB }), {
    instanceOf: InvalidRequest,
    message: 'Unknown resource option "ulimit"; known: shmem.',
  });
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
