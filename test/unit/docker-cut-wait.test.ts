import test from 'ava';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerAdapter } from '../../src/docker/docker-adapter.js';

/**
 * A Docker engine SIGKILLed under a pending wait: its socket closes after the wait's response
 * headers. The agent's abort, which comes after that, must still end the wait (docker-modem
 * alone leaves it pending for ever). The socket here answers like dockerd up to the cut.
 */
test('a wait cut after its headers ends when aborted afterwards', async (t) => {
  const path = join(tmpdir(), `bai-cut-${process.pid}.sock`);
  const waits: net.Socket[] = [];
  const server = net.createServer((c) => {
    c.once('data', (b) => {
      if (b.toString().includes('/wait')) {
        waits.push(c); // headers now, the body never (dockerd flushes the headers at once)
        c.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n');
      } else {
        c.end(
          'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK',
        );
      }
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
  t.teardown(() => {
    server.close();
    rmSync(path, { force: true });
  });
  const docker = new DockerAdapter(`unix://${path}`);
  const ctl = new AbortController();
  const wait = docker.wait('c0ffee', ctl.signal).then(
    () => 'resolved',
    (err: unknown) => `rejected: ${String(err)}`,
  );
  while (waits.length === 0) await docker.ping(); // the wait reached the "engine"
  await new Promise<void>((r) => {
    waits[0]!.once('close', () => r());
    waits[0]!.destroy(); // the engine dies
  });
  // Round trips after the cut: the client has read its end before the abort.
  await docker.ping();
  await docker.ping();
  ctl.abort();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    wait,
    new Promise<string>((r) => (timer = setTimeout(() => r('still pending 10 s after the abort'), 10_000))),
  ]);
  clearTimeout(timer);
  t.regex(outcome, /^rejected: .*wait container/);
});
