import test from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { call, makeKeypair, runJob, slugOf, type TestKeypair } from '../helpers/api.js';
import { makeFolder } from '../helpers/folders.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * Backend.AI fidelity on the real engine: `mount_options` (and `mount_ids`) mount a folder
 * read-only, and every kernel of a cluster sees the `BACKENDAI_*` environment Backend.AI sets.
 */

let stack: TestStack;
let kp: TestKeypair;
let root: string;

test.before(async () => {
  stack = await startTestStack({ agents: 1 });
  kp = await makeKeypair(stack);
  root = stack.agentConfig(1).storageRoot;
});
test.after.always(async () => {
  await stack?.close();
});

/** Reads the file, then tries to write next to it: exit 3 means "read it, could not write". */
const readThenWrite = (dir: string) =>
  `cat ${dir}/hello.txt && if touch ${dir}/x; then exit 0; else exit 3; fi`;

test.serial('mount_options permission ro: the job reads the folder and cannot write it', async (t) => {
  const host = await makeFolder(kp.client, root, 'ro-data');
  writeFileSync(join(host, 'hello.txt'), 'made-before-the-job\n', { mode: 0o644 });
  const folder = await call<{ id: string }>(kp.client, 'GET', '/folders/ro-data');

  const ro = await runJob(kp, readThenWrite('/home/work/ro-data'), {
    mounts: ['ro-data'],
    mount_options: { 'ro-data': { permission: 'ro' } },
  });
  t.is(ro.exitCode, 3, ro.logs);
  t.true(ro.logs.includes('made-before-the-job'), ro.logs);
  t.false(existsSync(join(host, 'x')));

  // By id, with "perm" and a mount_id_map destination, in camelCase.
  const byId = await runJob(kp, readThenWrite('/data'), {
    mountIds: [folder.body.id],
    mountIdMap: { [folder.body.id]: '/data' },
    mountOptions: { [folder.body.id]: { perm: 'ro' } },
  });
  t.is(byId.exitCode, 3, byId.logs);
  t.true(byId.logs.includes('made-before-the-job'), byId.logs);
  t.false(existsSync(join(host, 'x')));

  // The same folder without the option is writable: the option, not the folder, made it ro.
  const rw = await runJob(kp, readThenWrite('/home/work/ro-data'), {
    mounts: ['ro-data'],
    mount_options: null,
  });
  t.is(rw.exitCode, 0, rw.logs);
  t.true(existsSync(join(host, 'x')));
});

test.serial(
  'a mount option bai cannot honour, or for a folder not mounted, is a 400 naming the field',
  async (t) => {
    await makeFolder(kp.client, root, 'opt-data');
    const cases: [Record<string, unknown>, string][] = [
      [
        { mounts: ['opt-data'], mount_options: { other: { permission: 'ro' } } },
        'config.mount_options.other',
      ],
      [
        { mounts: ['opt-data'], mount_options: { 'opt-data': { subpath: 'a' } } },
        'config.mount_options.opt-data.subpath',
      ],
      [
        { mounts: ['opt-data'], mount_options: { 'opt-data': { permission: 'x' } } },
        'config.mount_options.opt-data.permission',
      ],
      [{ mount_ids: ['opt-data'] }, 'config.mount_ids'],
    ];
    for (const [config, field] of cases) {
      const r = await call<{ msg?: string; title?: string }>(
        kp.client,
        'POST',
        '/session',
        batch('true', { config }),
      );
      t.is(r.status, 400, JSON.stringify(r.body));
      t.is(slugOf(r), 'generic-bad-request');
      t.true(JSON.stringify(r.body).includes(field), `${JSON.stringify(r.body)} should name ${field}`);
    }
    // A folder id the keypair may not use is the 404 of an unknown folder.
    const r = await call(
      kp.client,
      'POST',
      '/session',
      batch('true', { config: { mount_ids: ['0b7c4f3e-8a1d-4c2e-9f00-1234567890ab'] } }),
    );
    t.is(r.status, 404);
  },
);

test.serial("every kernel of a cluster sees Backend.AI's BACKENDAI_* environment", async (t) => {
  // Every kernel runs the bootstrap: it prints the environment, then a sub serves a file so the
  // main knows it printed. The main waits for both subs, then ends.
  const bootstrap = [
    `env | grep -E '^(BACKENDAI|BAI)_' | sort | sed 's/^/ENV /'`,
    'if [ "$BACKENDAI_CLUSTER_ROLE" = sub ]; then',
    '  mkdir -p /tmp/w && cd /tmp/w && echo ok > ok && python3 -m http.server 8080 >/dev/null 2>&1 &',
    'fi',
  ].join('\n');
  const wait = [
    'import time, urllib.request',
    'for h in ("sub1", "sub2"):',
    '    for i in range(600):',
    '        try:',
    '            urllib.request.urlopen("http://" + h + ":8080/ok", timeout=2).read(); break',
    '        except OSError:',
    '            time.sleep(0.1)',
    '    else:',
    '        raise SystemExit(h + " never answered")',
  ].join('\n');
  const r = await call<{ sessionId: string }>(
    kp.client,
    'POST',
    '/session',
    batch(`python3 -c '${wait}'`, {
      name: 'env-cluster',
      cluster_size: 3,
      bootstrap_script: bootstrap,
      config: { environ: { BACKENDAI_SESSION_ID: 'forged', MINE: 'x' } },
    }),
  );
  t.is(r.status, 201, JSON.stringify(r.body));
  const id = r.body.sessionId;
  const s = await waitForStatus(kp.client, id, ['TERMINATED', 'CANCELLED', 'ERROR']);
  t.is(s.exitCode, 0, JSON.stringify(s.statusData));
  t.is(s.kernels.length, 3);

  const hosts = ['main1', 'sub1', 'sub2'];
  t.deepEqual(s.kernels.map((k) => k.clusterHostname).sort(), hosts);
  for (const k of s.kernels) {
    const logs = await call<{ result: { logs: string } }>(
      kp.client,
      'GET',
      `/session/${id}/logs`,
      undefined,
      {
        kernel_id: k.kernelId,
      },
    );
    t.is(logs.status, 200);
    const env = Object.fromEntries(
      logs.body.result.logs
        .split('\n')
        .filter((l) => l.startsWith('ENV '))
        .map((l) => [l.slice(4, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    // Backend.AI's numbering: the index is 1-based per role, the hostname role + index.
    const host = k.clusterHostname;
    const idx = k.clusterIdx;
    t.is(host, `${k.clusterRole}${idx}`);
    t.like(
      env,
      {
        BACKENDAI_SESSION_ID: id,
        BACKENDAI_SESSION_NAME: 'env-cluster',
        BACKENDAI_KERNEL_ID: k.kernelId,
        BACKENDAI_ACCESS_KEY: kp.accessKey,
        BACKENDAI_CLUSTER_ROLE: k.clusterRole,
        BACKENDAI_CLUSTER_IDX: String(idx),
        BACKENDAI_CLUSTER_LOCAL_RANK: String(hosts.indexOf(host)),
        BACKENDAI_CLUSTER_HOST: host,
        BACKENDAI_CLUSTER_HOSTS: hosts.join(','),
        BACKENDAI_CLUSTER_REPLICAS: 'main:1,sub:2',
        BACKENDAI_CLUSTER_SIZE: '3',
        BACKENDAI_CLUSTER_MODE: 'single-node',
        BAI_ATTEMPT: '1',
      },
      `${k.clusterRole} ${k.kernelId}: ${logs.body.result.logs}`,
    );
  }
});
