import test from 'ava';
import Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import { LOOPBACK_HOSTS } from '../../src/domain/container-plan.js';
import { until } from '../helpers/eventually.js';
import { testEnv } from '../helpers/env.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * A single kernel under the agent's default mode `none` runs with networking disabled and the
 * agent's loopback hosts file (container-plan.ts, loopbackOnly): what the job sees is what mode
 * `none` gave it (its own loopback, `localhost`, nothing beyond), without the engine's sandbox.
 */
let stack: TestStack;
let docker: Docker;
test.before(async () => {
  stack = await startTestStack({ agent: { networkMode: 'none' } });
  docker = new Docker({ socketPath: testEnv().dockerHost.replace(/^unix:\/\//, '') });
});
test.after.always(async () => {
  await stack?.close();
});

const create = (body: Record<string, unknown>) =>
  stack.client.request<{ sessionId: string }>('POST', '/session', body).then((r) => r.sessionId);

const CHECKS = [
  'import socket, threading',
  "print('localhost is', socket.gethostbyname('localhost'))",
  "srv = socket.create_server(('localhost', 0)); port = srv.getsockname()[1]",
  "threading.Thread(target=lambda: srv.accept()[0].sendall(b'pong'), daemon=True).start()",
  "print('loopback says', socket.create_connection(('localhost', port)).recv(4).decode())",
  "print('interfaces', sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]))",
  'try:',
  "    socket.create_connection(('192.0.2.1', 80), timeout=3); print('outside reached')",
  'except OSError as e:',
  "    print('outside unreachable', type(e).__name__)",
].join('\n');

test.serial('the job has its loopback and localhost, and nothing beyond', async (t) => {
  const id = await create(batch(`python3 -c "${CHECKS.replaceAll('"', '\\"')}"`));
  const v = await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 90_000);
  const { result } = await stack.client.request<{ result: { logs: string } }>('GET', `/session/${id}/logs`);
  t.is(`${v.status} ${v.result}`, 'TERMINATED SUCCESS', result.logs);
  t.regex(result.logs, /^localhost is 127\.0\.0\.1$/m);
  t.regex(result.logs, /^loopback says pong$/m);
  t.regex(result.logs, /^interfaces \['lo'\]$/m);
  t.regex(result.logs, /^outside unreachable /m);
});

test.serial('its container has networking disabled, no sandbox, and the hosts file read-only', async (t) => {
  const id = await create(batch('sleep 300'));
  try {
    await waitForStatus(stack.client, id, ['RUNNING'], 90_000);
    const [c] = await until('the container', async () => {
      const list = await docker.listContainers({ filters: { label: [`ai.bai.session-id=${id}`] } });
      return list.length > 0 ? list : null;
    });
    const info = await docker.getContainer(c!.Id).inspect();
    t.true((info.Config as { NetworkDisabled?: boolean }).NetworkDisabled);
    t.is(info.HostConfig.NetworkMode, 'none');
    t.falsy(info.NetworkSettings.SandboxKey, 'the engine made no network namespace of its own');
    const file = stack.agentConfig(1).loopbackHostsFile!;
    t.true((info.HostConfig.Binds ?? []).includes(`${file}:/etc/hosts:ro`));
    t.is(readFileSync(file, 'utf8'), LOOPBACK_HOSTS);
  } finally {
    await stack.client.request('DELETE', `/session/${id}`).catch(() => undefined);
  }
  await waitForStatus(stack.client, id, ['TERMINATED', 'CANCELLED'], 60_000);
});
