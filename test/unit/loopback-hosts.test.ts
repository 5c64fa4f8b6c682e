import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig } from '../../src/config/config.js';
import { LOOPBACK_HOSTS } from '../../src/domain/container-plan.js';
import { withLoopbackHosts } from '../../src/workers/agent/loopback-hosts.js';

/** The agent's loopback hosts file: where it is kept, and written at start (container-plan.ts, loopbackOnly). */
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
