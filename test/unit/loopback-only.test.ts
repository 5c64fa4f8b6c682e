import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig } from '../../src/config/config.js';
import {
  LOOPBACK_HOSTS,
  clusterNetworkName,
  kernelContainer,
  loopbackOnly,
  type KernelPlanInput,
  type PlannedKernel,
} from '../../src/domain/container-plan.js';
import { createBody } from '../../src/docker/create-body.js';
import { withLoopbackHosts } from '../../src/workers/agent/loopback-hosts.js';

/**
 * A kernel that is to have no network (mode `none`, single) is created with networking
 * disabled and the agent's loopback hosts file, instead of the engine's network sandbox.
 */
const main: PlannedKernel = {
  kernelId: 'k-main',
  clusterRole: 'main',
  clusterIdx: 1,
  hostname: 'main1',
  slots: { cpu: 1, mem: 256 * 1024 * 1024 },
};
const sub: PlannedKernel = {
  kernelId: 'k-sub',
  clusterRole: 'sub',
  clusterIdx: 1,
  hostname: 'sub1',
  slots: {},
};
const HOSTS = '/var/lib/bai/hosts';

function input(
  agent: Partial<KernelPlanInput['agent']>,
  over: Partial<KernelPlanInput> = {},
): KernelPlanInput {
  return {
    session: {
      sessionId: 's-1',
      sessionName: 'job-1',
      accessKey: 'AKTEST',
      attempt: 1,
      image: 'python:3.12-alpine',
      startupCommand: 'true',
      bootstrapScript: null,
      environ: {},
      resourceOpts: {},
      kernels: [main],
      startsAt: null,
      batchTimeoutSec: null,
    },
    kernel: main,
    sessionSlots: main.slots,
    agentId: 'agent-1',
    user: { uid: 1000, gid: 1000 },
    binds: ['/data/f1:/home/work/f1:rw'],
    network: null,
    agent: { networkMode: 'none', loopbackHostsFile: HOSTS, pidsLimit: 1024, logLimitBytes: 1024, ...agent },
    hostCpus: 8,
    ...over,
  };
}

test('a single kernel of mode none: networking disabled, the loopback hosts file mounted read-only', (t) => {
  const spec = kernelContainer(input({}));
  t.is(spec.networkMode, 'none');
  t.true(spec.networkDisabled);
  t.deepEqual(spec.binds, ['/data/f1:/home/work/f1:rw', `${HOSTS}:/etc/hosts:ro`], 'its own folders first');
  const body = createBody(spec);
  t.true(body.NetworkDisabled);
  t.deepEqual((body.HostConfig as { Binds: string[] }).Binds, spec.binds);
  t.is((body.HostConfig as { NetworkMode: string }).NetworkMode, 'none');
});

test('otherwise the mode as it is: no file, another mode, or a cluster network', (t) => {
  for (const [why, i] of [
    ['no hosts file', input({ loopbackHostsFile: null })],
    ['hosts file absent', input({ loopbackHostsFile: undefined })],
    ['mode default', input({ networkMode: 'default' })],
    ['mode bridge', input({ networkMode: 'bridge' })],
    ['a cluster', input({}, { network: clusterNetworkName('s-1'), kernel: sub })],
  ] as const) {
    const spec = kernelContainer(i);
    t.is(loopbackOnly(i), null, why);
    t.falsy(spec.networkDisabled, why);
    t.deepEqual(spec.binds, ['/data/f1:/home/work/f1:rw'], why);
    t.is(createBody(spec).NetworkDisabled, undefined, why);
  }
});

test('the hosts file names the loopback as the engine writes it for mode none', (t) => {
  const lines = LOOPBACK_HOSTS.trimEnd().split('\n');
  t.is(lines[0], '127.0.0.1\tlocalhost');
  t.is(lines[1], '::1\tlocalhost ip6-localhost ip6-loopback');
  t.true(LOOPBACK_HOSTS.endsWith('\n'));
});

test('the agent keeps its hosts file in its state folder, unless told otherwise or the engine is remote', (t) => {
  t.is(loadAgentConfig({ BAI_STATE_DIR: '/srv/bai' }).loopbackHostsFile, '/srv/bai/hosts');
  t.is(
    loadAgentConfig({ BAI_STATE_DIR: '/srv/bai', DOCKER_HOST: 'unix:///run/d.sock' }).loopbackHostsFile,
    '/srv/bai/hosts',
  );
  t.is(loadAgentConfig({ BAI_AGENT_HOSTS_FILE: '/etc/bai/hosts' }).loopbackHostsFile, '/etc/bai/hosts');
  t.is(loadAgentConfig({ BAI_AGENT_HOSTS_FILE: 'off' }).loopbackHostsFile, null);
  t.is(
    loadAgentConfig({ DOCKER_HOST: 'tcp://10.0.0.5:2375' }).loopbackHostsFile,
    null,
    'its host does not see our files',
  );
});

test('the agent writes its hosts file, or runs without it when it cannot', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bai-hosts-'));
  const errors: string[] = [];
  const log = { info() {}, error: (msg: string) => void errors.push(msg) };
  try {
    const config = { ...loadAgentConfig({ BAI_STATE_DIR: dir }), networkMode: 'none' };
    const ok = await withLoopbackHosts(config, log);
    t.is(ok.loopbackHostsFile, join(dir, 'hosts'));
    t.is(readFileSync(join(dir, 'hosts'), 'utf8'), LOOPBACK_HOSTS);
    t.is(statSync(join(dir, 'hosts')).mode & 0o777, 0o644, 'readable by every job user');
    t.deepEqual(errors, []);
    writeFileSync(join(dir, 'plain'), 'x');
    const cut = await withLoopbackHosts({ ...config, loopbackHostsFile: join(dir, 'plain', 'hosts') }, log);
    t.is(cut.loopbackHostsFile, null, "mode none's own sandbox then");
    t.is(errors.length, 1);
    const other = { ...config, networkMode: 'default', loopbackHostsFile: join(dir, 'other', 'hosts') };
    t.is(await withLoopbackHosts(other, log), other);
    t.false(existsSync(join(dir, 'other')), 'written only for mode none');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
