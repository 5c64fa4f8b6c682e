import test from 'ava';
import { createBody } from '../../src/docker/create-body.js';
import { DEFAULT_SLOTS } from '../../src/domain/admission.js';
import {
  CONTAINER_HARDENING,
  KERNEL_CAPABILITIES,
  LABEL,
  LOOPBACK_HOSTS,
  WORK_DIR,
  batchTimeoutFromLabel,
  clusterNetworkName,
  clusterReplicas,
  containerName,
  creationOrder,
  kernelContainer,
  loopbackOnly,
  networkLabels,
  sessionOfNetwork,
  slotsFromLabel,
  type KernelPlanInput,
  type PlannedKernel,
} from '../../src/domain/container-plan.js';

const main: PlannedKernel = {
  kernelId: 'k-main',
  clusterRole: 'main',
  clusterIdx: 1,
  hostname: 'main1',
  slots: { cpu: 2, mem: 512 * 1024 * 1024 },
};
const sub: PlannedKernel = {
  kernelId: 'k-sub',
  clusterRole: 'sub',
  clusterIdx: 1,
  hostname: 'sub1',
  slots: {},
};

function input(
  over: Partial<KernelPlanInput> = {},
  session: Partial<KernelPlanInput['session']> = {},
): KernelPlanInput {
  return {
    session: {
      sessionId: 's-1',
      sessionName: 'job-1',
      accessKey: 'AKTEST',
      attempt: 1,
      image: 'python:3.12-alpine',
      startupCommand: 'echo hi',
      bootstrapScript: null,
      environ: { A: '1' },
      resourceOpts: {},
      kernels: [main],
      startsAt: null,
      batchTimeoutSec: null,
      ...session,
    },
    kernel: main,
    sessionSlots: { cpu: 2, mem: 512 * 1024 * 1024 },
    agentId: 'agent-1',
    user: { uid: 1000, gid: 1001 },
    binds: [],
    network: null,
    agent: { networkMode: 'none', pidsLimit: 1024, logLimitBytes: 4 * 1024 * 1024 },
    hostCpus: 8,
    ...over,
  };
}

test('every container is hardened: no privileges, all capabilities dropped, no new privileges', (t) => {
  t.false(CONTAINER_HARDENING.privileged);
  t.deepEqual([...CONTAINER_HARDENING.capDrop], ['ALL']);
  t.deepEqual([...CONTAINER_HARDENING.securityOpt], ['no-new-privileges']);
  t.is(CONTAINER_HARDENING.logDriver, 'json-file');
});

test('a kernel gets back only the capabilities it needs, never SYS_ADMIN or NET_ADMIN', (t) => {
  const spec = kernelContainer(input());
  t.deepEqual(spec.capAdd, ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID', 'KILL']);
  t.deepEqual(spec.capAdd, [...KERNEL_CAPABILITIES]);
  t.false(spec.capAdd.includes('SYS_ADMIN'));
  t.false(spec.capAdd.includes('NET_ADMIN'));
});

test('runs as the job user, in the work dir, with a fresh tmpfs home the user owns', (t) => {
  const spec = kernelContainer(input());
  t.is(spec.user, '1000:1001');
  t.is(spec.workingDir, WORK_DIR);
  t.deepEqual(spec.tmpfs, { [WORK_DIR]: 'rw,exec,nosuid,nodev,mode=0755,uid=1000,gid=1001' });
});

test('no tmpfs home when a storage folder is mounted on the work dir itself', (t) => {
  const spec = kernelContainer(input({ binds: [`/srv/st/ak/data:${WORK_DIR}:rw`] }));
  t.deepEqual(spec.tmpfs, {});
  t.deepEqual(spec.binds, [`/srv/st/ak/data:${WORK_DIR}:rw`]);
});

test('a folder mounted under the work dir keeps the tmpfs home', (t) => {
  const spec = kernelContainer(input({ binds: [`/srv/st/ak/data:${WORK_DIR}/data:ro`] }));
  t.truthy(spec.tmpfs?.[WORK_DIR]);
});

test('limits: cpu from the slots, capped at the host cores; memory with a default; pids; shm', (t) => {
  t.is(kernelContainer(input()).nanoCpus, 2e9);
  t.is(kernelContainer(input({ hostCpus: 1 })).nanoCpus, 1e9);
  const bare = kernelContainer(input({ kernel: { ...main, slots: {} } }));
  t.is(bare.nanoCpus, 1e9);
  t.is(bare.memoryBytes, DEFAULT_SLOTS.mem);
  t.is(kernelContainer(input()).memoryBytes, 512 * 1024 * 1024);
  t.is(kernelContainer(input()).pidsLimit, 1024);
  t.is(kernelContainer(input()).shmBytes, null);
  t.is(kernelContainer(input({}, { resourceOpts: { shmem: 64 * 1024 * 1024 } })).shmBytes, 64 * 1024 * 1024);
});

test('output is bounded by json-file options derived from the log limit', (t) => {
  const spec = kernelContainer(input());
  t.deepEqual(spec.logOptions, { 'max-size': String(8 * 1024 * 1024), 'max-file': '2' });
  const capped = kernelContainer(input({ agent: { ...input().agent, dockerLogMaxBytes: 2 * 1024 * 1024 } }));
  t.is(capped.logOptions['max-size'], String(2 * 1024 * 1024));
});

test('labels say whose container it is, which attempt, and what the main holds', (t) => {
  const spec = kernelContainer(input({}, { startsAt: 1_700_000_000_000, batchTimeoutSec: 30 }));
  t.deepEqual(spec.labels, {
    [LABEL.managed]: 'true',
    [LABEL.session]: 's-1',
    [LABEL.kernel]: 'k-main',
    [LABEL.agent]: 'agent-1',
    [LABEL.attempt]: '1',
    [LABEL.role]: 'main',
    [LABEL.startsAt]: '1700000000000',
    [LABEL.batchTimeout]: '30',
    [LABEL.slots]: JSON.stringify({ cpu: 2, mem: 512 * 1024 * 1024 }),
  });
  const plain = kernelContainer(input());
  t.is(plain.labels[LABEL.startsAt], '');
  t.is(plain.labels[LABEL.batchTimeout], '');
});

test('a sub holds no slots in its label and idles after its bootstrap', (t) => {
  const spec = kernelContainer(input({ kernel: sub }, { kernels: [main, sub] }));
  t.is(spec.labels[LABEL.slots], '{}');
  t.is(spec.labels[LABEL.role], 'sub');
  t.deepEqual(spec.cmd?.slice(0, 2), ['/bin/sh', '-c']);
  t.true(spec.cmd?.[2]?.includes('sleep 3600'));
});

test('labels read back: slots and batch timeout, junk labels hold nothing', (t) => {
  const spec = kernelContainer(input({}, { batchTimeoutSec: 2.5 }));
  t.deepEqual(slotsFromLabel(spec.labels), { cpu: 2, mem: 512 * 1024 * 1024 });
  t.is(batchTimeoutFromLabel(spec.labels), 2.5);
  t.is(batchTimeoutFromLabel(kernelContainer(input()).labels), null);
  t.deepEqual(slotsFromLabel({}), {});
  t.deepEqual(slotsFromLabel({ [LABEL.slots]: 'not json' }), {});
  t.deepEqual(slotsFromLabel({ [LABEL.slots]: '[1,2]' }), {});
  t.deepEqual(slotsFromLabel({ [LABEL.slots]: '{"cpu":1,"x":"y"}' }), { cpu: 1 });
});

test('names: attempt 1 keeps the plain name, later attempts do not collide', (t) => {
  t.is(containerName('k', 1), 'bai-k');
  t.is(containerName('k', 3), 'bai-k.3');
  t.is(kernelContainer(input({}, { attempt: 2 })).name, 'bai-k-main.2');
});

test('a cluster shares its own network, reached by hostname; a single kernel uses the agent mode', (t) => {
  const single = kernelContainer(input());
  t.is(single.networkMode, 'none');
  t.deepEqual(single.networkAliases, []);
  const net = clusterNetworkName('s-1');
  const clustered = kernelContainer(input({ network: net }, { kernels: [main, sub] }));
  t.is(clustered.networkMode, 'bai-s-1');
  t.deepEqual(clustered.networkAliases, ['main1']);
  t.is(sessionOfNetwork(net), 's-1');
  t.deepEqual(networkLabels('s-1', 'agent-1'), {
    [LABEL.managed]: 'true',
    [LABEL.session]: 's-1',
    [LABEL.agent]: 'agent-1',
  });
});

test('environment: the user environment, then Backend.AI variables that it cannot override', (t) => {
  const spec = kernelContainer(
    input({ kernel: sub }, { kernels: [main, sub], environ: { A: '1', BACKENDAI_SESSION_ID: 'forged' } }),
  );
  t.is(spec.env.A, '1');
  t.is(spec.env.BACKENDAI_SESSION_ID, 's-1');
  t.is(spec.env.BACKENDAI_CLUSTER_HOSTS, 'main1,sub1');
  t.is(spec.env.BACKENDAI_CLUSTER_SIZE, '2');
  t.is(spec.env.HOME, WORK_DIR);
});

test('subs are created before the main', (t) => {
  t.deepEqual(
    creationOrder([main, sub, { ...sub, kernelId: 'k-sub2' }]).map((k) => k.kernelId),
    ['k-sub', 'k-sub2', 'k-main'],
  );
});

test('the main runs its bootstrap then its command through a shell', (t) => {
  const spec = kernelContainer(input({}, { bootstrapScript: 'pip install x' }));
  t.deepEqual(spec.cmd, ['/bin/sh', '-c', 'pip install x\necho hi']);
  t.is(kernelContainer(input({}, { startupCommand: null })).cmd, null);
});

const sub2: PlannedKernel = { ...sub, kernelId: 'k-sub2', clusterIdx: 2, hostname: 'sub2' };

test("a kernel's environment is Backend.AI's: session, kernel, cluster and access key", (t) => {
  const session = { kernels: [main, sub, sub2], clusterMode: 'single-node', attempt: 2 };
  const m = kernelContainer(input({}, session)).env;
  t.like(m, {
    BACKENDAI_SESSION_ID: 's-1',
    BACKENDAI_SESSION_NAME: 'job-1',
    BACKENDAI_ACCESS_KEY: 'AKTEST',
    BACKENDAI_KERNEL_ID: 'k-main',
    BACKENDAI_KERNEL_IMAGE: 'python:3.12-alpine',
    BACKENDAI_CLUSTER_ROLE: 'main',
    BACKENDAI_CLUSTER_IDX: '1',
    BACKENDAI_CLUSTER_LOCAL_RANK: '0',
    BACKENDAI_CLUSTER_HOST: 'main1',
    BACKENDAI_CLUSTER_HOSTS: 'main1,sub1,sub2',
    BACKENDAI_CLUSTER_REPLICAS: 'main:1,sub:2',
    BACKENDAI_CLUSTER_SIZE: '3',
    BACKENDAI_CLUSTER_MODE: 'single-node',
    BAI_ATTEMPT: '2',
    HOME: WORK_DIR,
    A: '1',
  });
  const s2 = kernelContainer(input({ kernel: sub2 }, session)).env;
  t.like(s2, {
    BACKENDAI_KERNEL_ID: 'k-sub2',
    BACKENDAI_CLUSTER_ROLE: 'sub',
    BACKENDAI_CLUSTER_IDX: '2',
    BACKENDAI_CLUSTER_LOCAL_RANK: '2',
    BACKENDAI_CLUSTER_HOST: 'sub2',
    BACKENDAI_CLUSTER_HOSTS: 'main1,sub1,sub2',
    BACKENDAI_CLUSTER_REPLICAS: 'main:1,sub:2',
  });
  t.is(kernelContainer(input({}, { clusterMode: 'multi-node' })).env.BACKENDAI_CLUSTER_MODE, 'multi-node');
});

test('a job from an older manager (no clusterMode) is single-node; one kernel is main:1', (t) => {
  const env = kernelContainer(input()).env;
  t.is(env.BACKENDAI_CLUSTER_MODE, 'single-node');
  t.is(env.BACKENDAI_CLUSTER_REPLICAS, 'main:1');
  t.is(env.BACKENDAI_CLUSTER_SIZE, '1');
  t.is(env.BAI_ATTEMPT, '1');
  t.is(clusterReplicas(['sub', 'main', 'sub']), 'main:1,sub:2');
});

test("the user's environ cannot override BACKENDAI_* or BAI_ATTEMPT (Backend.AI's order)", (t) => {
  const env = kernelContainer(
    input({}, { environ: { BACKENDAI_SESSION_ID: 'forged', BAI_ATTEMPT: '9', BACKENDAI_X: 'kept' } }),
  ).env;
  t.is(env.BACKENDAI_SESSION_ID, 's-1');
  t.is(env.BAI_ATTEMPT, '1');
  t.is(env.BACKENDAI_X, 'kept');
});

const HOSTS = '/var/lib/bai/hosts';
const FOLDER = '/data/f1:/home/work/f1:rw';
/** The input of a single kernel on an agent whose mode is `mode` and hosts file `file`. */
const onAgent = (mode: string, file: string | null | undefined, over: Partial<KernelPlanInput> = {}) =>
  input({
    binds: [FOLDER],
    agent: { ...input().agent, networkMode: mode, loopbackHostsFile: file },
    ...over,
  });

test('a single kernel of mode none: networking disabled, the loopback hosts file mounted read-only', (t) => {
  const spec = kernelContainer(onAgent('none', HOSTS));
  t.is(spec.networkMode, 'none');
  t.true(spec.networkDisabled);
  t.deepEqual(spec.binds, [FOLDER, `${HOSTS}:/etc/hosts:ro`], 'its own folders first');
  const body = createBody(spec);
  t.true(body.NetworkDisabled);
  t.deepEqual((body.HostConfig as { Binds: string[] }).Binds, spec.binds);
  t.is((body.HostConfig as { NetworkMode: string }).NetworkMode, 'none');
});

test('otherwise the mode as it is: no hosts file, another mode, or a cluster network', (t) => {
  for (const [why, i] of [
    ['no hosts file', onAgent('none', null)],
    ['hosts file absent', onAgent('none', undefined)],
    ['mode default', onAgent('default', HOSTS)],
    ['mode bridge', onAgent('bridge', HOSTS)],
    ['a cluster', onAgent('none', HOSTS, { network: clusterNetworkName('s-1'), kernel: sub })],
  ] as const) {
    const spec = kernelContainer(i);
    t.is(loopbackOnly(i), null, why);
    t.falsy(spec.networkDisabled, why);
    t.deepEqual(spec.binds, [FOLDER], why);
    t.is(createBody(spec).NetworkDisabled, undefined, why);
  }
});

test('the hosts file names the loopback as the engine writes it for mode none', (t) => {
  const lines = LOOPBACK_HOSTS.trimEnd().split('\n');
  t.is(lines[0], '127.0.0.1\tlocalhost');
  t.is(lines[1], '::1\tlocalhost ip6-localhost ip6-loopback');
  t.true(LOOPBACK_HOSTS.endsWith('\n'));
});
