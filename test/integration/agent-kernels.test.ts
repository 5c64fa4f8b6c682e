import test from 'ava';
import { until } from '../helpers/eventually.js';
import Docker from 'dockerode';
import { existsSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../../src/cli/client.js';
import { heartbeatKey, logStreamKey } from '../../src/queue/names.js';
import type { Heartbeat } from '../../src/queue/payloads.js';
import { openRedis } from '../../src/queue/redis.js';
import { testEnv } from '../helpers/env.js';
import { makeFolder } from '../helpers/folders.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/** One agent's kernels on the real engine: clusters, limits, OOM, timeout, cancel, mounts, logs. */

let stack: TestStack;
let docker: Docker;
const MiB = 1024 * 1024;

test.before(async () => {
  stack = await startTestStack({ agent: { logLimitBytes: 4096 } });
  docker = new Docker({ socketPath: testEnv().dockerHost.replace(/^unix:\/\//, '') });
});
test.after.always(async () => {
  await stack?.close();
});

async function create(body: Record<string, unknown>): Promise<string> {
  const r = await stack.client.request<{ sessionId: string }>('POST', '/session', body);
  return r.sessionId;
}

async function logsOf(id: string): Promise<string> {
  const r = await stack.client.request<{ result: { logs: string } }>('GET', `/session/${id}/logs`);
  return r.result.logs;
}

/** Containers of this stack's agents that belong to one session. */
async function containersOf(sessionId: string): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all: true, filters: { label: [`ai.bai.session-id=${sessionId}`] } });
}

test.serial('a 2-kernel cluster: the main reaches sub1 by name over the private network', async (t) => {
  // Subs run the bootstrap script and then idle; here the bootstrap makes sub1 serve its own
  // identity on port 8080, and the main fetches it by hostname.
  const bootstrap = [
    'if [ "$BACKENDAI_CLUSTER_ROLE" = sub ]; then',
    '  mkdir -p /tmp/www && echo "I am $BACKENDAI_CLUSTER_HOST kernel $BACKENDAI_KERNEL_ID" > /tmp/www/id',
    '  cd /tmp/www && python3 -m http.server 8080 >/dev/null 2>&1 &',
    'fi',
  ].join('\n');
  const fetch = [
    'import time, urllib.request, os',
    'print("main is", os.environ["BACKENDAI_CLUSTER_HOST"], os.environ["BACKENDAI_CLUSTER_HOSTS"], os.environ["BACKENDAI_CLUSTER_SIZE"])',
    'for i in range(200):',
    '    try:',
    '        print(urllib.request.urlopen("http://sub1:8080/id", timeout=2).read().decode().strip()); break',
    '    except OSError as e:',
    '        time.sleep(0.1)',
    'else:',
    '    raise SystemExit("sub1 never answered")',
  ].join('\n');
  const id = await create(
    batch(`python3 -c '${fetch}'`, { cluster_size: 2, bootstrap_script: bootstrap, name: 'cluster2' }),
  );
  const running = await waitForStatus(stack.client, id, ['RUNNING', 'TERMINATED', 'CANCELLED']);
  t.is(running.kernels.length, 2);
  const s = await waitForStatus(stack.client, id);
  const logs = await logsOf(id);
  t.is(s.status, 'TERMINATED', JSON.stringify(s.statusData));
  t.is(s.exitCode, 0, logs);
  t.regex(logs, /main is main1 main1,sub1 2/);
  const sub = s.kernels.find((k) => k.clusterRole === 'sub');
  t.truthy(sub);
  t.true(logs.includes(`I am sub1 kernel ${sub!.kernelId}`), logs);
  // The subs and the private network go when the main ends.
  await until('the cluster containers removed', async () =>
    (await containersOf(id)).length === 0 ? true : null,
  );
  await until('the cluster network removed', async () =>
    (await docker.listNetworks({ filters: { name: [`bai-${id}`] } })).length === 0 ? true : null,
  );
});

test.serial(
  'limits: the container holds exactly its allocation, unprivileged; cancel stops it',
  async (t) => {
    const id = await create(
      batch('sleep 120', {
        name: 'limited',
        config: { resources: { cpu: 1, mem: '96m' }, resource_opts: { shmem: '16m' } },
      }),
    );
    await waitForStatus(stack.client, id, ['RUNNING']);
    const [c] = await containersOf(id);
    t.truthy(c);
    const info = await docker.getContainer(c!.Id).inspect();
    const h = info.HostConfig;
    t.is(h.NanoCpus, 1e9);
    t.is(h.Memory, 96 * MiB);
    t.is(h.MemorySwap, 96 * MiB, 'no swap beyond the memory limit');
    t.is(h.ShmSize, 16 * MiB);
    t.true((h.PidsLimit ?? 0) > 0 && (h.PidsLimit ?? 0) <= 1024);
    t.false(h.Privileged);
    t.deepEqual(h.CapDrop, ['ALL']);
    t.true((h.SecurityOpt ?? []).includes('no-new-privileges'));
    t.is(info.Config.WorkingDir, '/home/work');
    t.is(info.Config.Labels['ai.bai.session-id'], id);
    t.is(info.Config.Labels['ai.bai.agent-id'], stack.agentConfig(1).id);
    t.is(info.Config.Labels['ai.bai.cluster-role'], 'main');
    t.true(info.Config.Env.includes(`BACKENDAI_SESSION_ID=${id}`));
    t.true(info.Config.Env.includes('BACKENDAI_CLUSTER_ROLE=main'));

    // The heartbeat carries the occupied slots of the running kernel.
    const redis = openRedis(testEnv().redisUrl);
    try {
      const hb = await until('a heartbeat with occupied slots', async () => {
        const raw = await redis.get(heartbeatKey(stack.prefix, stack.agentConfig(1).id));
        const beat = raw ? (JSON.parse(raw) as Heartbeat) : null;
        const mine = beat?.sessions.some((x) => x.sessionId === id && x.state === 'running');
        return beat && mine ? beat : null;
      });
      t.deepEqual(hb.occupied, { cpu: 1, mem: 96 * MiB });
    } finally {
      redis.disconnect();
    }

    await stack.client.request('DELETE', `/session/${id}`);
    const s = await waitForStatus(stack.client, id);
    t.is(s.status, 'TERMINATED');
    t.is(s.statusInfo, 'user-requested');
    t.is(s.result, 'FAILURE');
    t.is(s.exitCode, 137, 'sleep as pid 1 ignores SIGTERM: SIGKILL after the grace period');
    await until('the container removed', async () => ((await containersOf(id)).length === 0 ? true : null));
  },
);

test.serial('cancelling a running cluster stops every kernel, each held to its own allocation', async (t) => {
  const id = await create(
    batch('sleep 120', {
      name: 'cluster-cancel',
      cluster_size: 3,
      config: { resources: { cpu: 1, mem: '64m' } },
    }),
  );
  await waitForStatus(stack.client, id, ['RUNNING']);
  const cs = await containersOf(id);
  t.is(cs.length, 3);
  const roles: string[] = [];
  for (const c of cs) {
    const info = await docker.getContainer(c.Id).inspect();
    roles.push(`${info.Config.Labels['ai.bai.cluster-role']}:${info.Config.Hostname}`);
    t.is(info.HostConfig.NanoCpus, 1e9);
    t.is(info.HostConfig.Memory, 64 * MiB);
    t.is(info.HostConfig.MemorySwap, 64 * MiB);
    t.false(info.HostConfig.Privileged);
    t.is(info.HostConfig.NetworkMode, `bai-${id}`);
  }
  t.deepEqual(roles.sort(), ['main:main1', 'sub:sub1', 'sub:sub2']);
  await stack.client.request('DELETE', `/session/${id}`);
  const s = await waitForStatus(stack.client, id);
  t.is(s.status, 'TERMINATED');
  t.is(s.statusInfo, 'user-requested');
  await until('every kernel removed', async () => ((await containersOf(id)).length === 0 ? true : null));
  await until('the network removed', async () =>
    (await docker.listNetworks({ filters: { name: [`bai-${id}`] } })).length === 0 ? true : null,
  );
});

test.serial('output can be followed while the container runs', async (t) => {
  const id = await create(batch('echo first; sleep 30', { name: 'follow-me' }));
  const running = await waitForStatus(stack.client, id, ['RUNNING']);
  const kernelId = running.kernels[0]!.kernelId;
  const agentId = String(running.agentId);
  const redis = openRedis(testEnv().redisUrl);
  try {
    const text = await until('live output in the log stream', async () => {
      const entries = await redis.xrange(logStreamKey(stack.prefix, agentId, kernelId), '-', '+');
      const joined = entries.map(([, fields]) => fields[1] ?? '').join('');
      return joined.includes('first') ? joined : null;
    });
    t.is(text, 'first\n');
  } finally {
    redis.disconnect();
  }
  await stack.client.request('DELETE', `/session/${id}`);
  await waitForStatus(stack.client, id);
});

test.serial('a memory limit that is exceeded ends with exit 137 and an OOM reason', async (t) => {
  const id = await create(
    batch(`python3 -c 'b = b"x" * (256 * 1024 * 1024); print(len(b))'`, {
      name: 'oom-kill',
      config: { resources: { cpu: 1, mem: '48m' } },
    }),
  );
  const s = await waitForStatus(stack.client, id);
  t.is(s.status, 'TERMINATED');
  t.is(s.exitCode, 137);
  t.is(s.result, 'FAILURE');
  t.is(s.statusInfo, 'out-of-memory');
  t.is(s.statusData.oomKilled, true);
  t.regex(String(s.statusData.error), /out of memory/);
});

test.serial('a batch timeout kills the command: exit -2, task-timeout', async (t) => {
  const id = await create(batch('echo started; sleep 60', { name: 'slow', batch_timeout: 1 }));
  const s = await waitForStatus(stack.client, id);
  t.is(s.status, 'TERMINATED');
  t.is(s.statusInfo, 'task-timeout');
  t.is(s.exitCode, -2);
  t.is(s.result, 'FAILURE');
  t.is(await logsOf(id), 'started\n');
  const started = Date.parse(s.kernels[0]!.startedAt!);
  const history = await stack.client.request<{ result: Record<string, string> }>(
    'GET',
    `/session/${id}/status-history`,
  );
  const ended = Date.parse(history.result.TERMINATED ?? '');
  t.true(ended - started >= 1000, `ended ${ended - started} ms after start`);
});

test.serial('logs are bounded: the tail is kept with a truncation marker', async (t) => {
  const id = await create(
    batch(`python3 -c 'for i in range(2000): print("line %05d" % i)'`, { name: 'chatty' }),
  );
  const s = await waitForStatus(stack.client, id);
  t.is(s.exitCode, 0);
  const logs = await logsOf(id);
  t.true(logs.startsWith('[bai: output truncated, last 4096 bytes follow]\n'), logs.slice(0, 80));
  t.true(Buffer.byteLength(logs) <= 4096 + 100);
  t.true(logs.endsWith('line 01999\n'));
  t.false(logs.includes('line 00000'));
});

test.serial(
  'mounts: storage folders by name, read-only when asked, relative targets under /home/work',
  async (t) => {
    const root = stack.agentConfig(1).storageRoot;
    const outbox = await makeFolder(stack.client, root, 'outbox');
    await makeFolder(stack.client, root, 'inputs', { mkdir: false });
    const id = await create(
      batch('echo written > /home/work/out/result.txt && cat /home/work/out/result.txt && ! touch /data/x', {
        name: 'mounted',
        config: { mounts: ['outbox', 'inputs:ro'], mount_map: { outbox: 'out', inputs: '/data' } },
      }),
    );
    const s = await waitForStatus(stack.client, id);
    t.is(s.exitCode, 0, JSON.stringify(s) + (await logsOf(id)));
    t.deepEqual(readdirSync(outbox), ['result.txt']);
  },
);

test.serial('mounts that try to leave the storage root get a 4xx and no container', async (t) => {
  const bodies = [
    { mounts: ['../etc'] },
    { mounts: ['/etc'] },
    { mounts: ['data'], mount_map: { data: '../../etc' } },
    { mounts: ['a/../../b'] },
  ];
  for (const [i, config] of bodies.entries()) {
    const err = await t.throwsAsync(create(batch('true', { config, name: `escape-${i}` })), {
      instanceOf: ApiError,
    });
    t.true(err!.status >= 400 && err!.status < 500, `${JSON.stringify(config)} → ${err!.status}`);
  }
  const sessions = await stack.database.db('sessions').where('name', 'like', 'escape%');
  t.is(sessions.length, 0);

  // A folder that is a symlink out of the root is refused on the agent, before Docker sees it.
  const root = stack.agentConfig(1).storageRoot;
  symlinkSync('/etc', await makeFolder(stack.client, root, 'sneaky', { mkdir: false }));
  const id = await create(
    batch('cat /home/work/sneaky/hostname', { name: 'escape-link', config: { mounts: ['sneaky'] } }),
  );
  const s = await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED', 'ERROR']);
  t.not(s.result, 'SUCCESS');
  t.regex(String(s.statusData.error ?? ''), /outside the storage root/);
  t.is((await containersOf(id)).length, 0);

  // A dangling link: nothing is created at its far end.
  const far = join(testEnv().tmp, `far-${stack.id}`);
  symlinkSync(far, await makeFolder(stack.client, root, 'dangling', { mkdir: false }));
  const id2 = await create(batch('true', { name: 'escape-dangling', config: { mounts: ['dangling'] } }));
  const s2 = await waitForStatus(stack.client, id2, ['TERMINATED', 'CANCELLED', 'ERROR']);
  t.not(s2.result, 'SUCCESS');
  t.regex(String(s2.statusData.error ?? ''), /link to nothing/);
  t.false(existsSync(far));
});

test.serial('a session that asks for more than it may is refused at submit', async (t) => {
  const err = await t.throwsAsync(create(batch('true', { config: { resources: { cpu: 64, mem: '1g' } } })), {
    instanceOf: ApiError,
  });
  t.true(err!.status >= 400 && err!.status < 500);
});
