import test from 'ava';
import { rmSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerAdapter } from '../../src/docker/docker-adapter.js';
import { statusOf, wrap } from '../../src/docker/docker-errors.js';
import { EngineHttp, engineAddress, queryOf } from '../../src/docker/engine-http.js';

test('engineAddress reads unix:// and tcp:// hosts as dockerode does', (t) => {
  t.deepEqual(engineAddress(null), { socketPath: '/var/run/docker.sock' });
  t.deepEqual(engineAddress('unix:///tmp/d.sock'), { socketPath: '/tmp/d.sock' });
  t.deepEqual(engineAddress('tcp://10.0.0.5:2376'), { host: '10.0.0.5', port: 2376 });
  t.deepEqual(engineAddress('tcp://docker'), { host: 'docker', port: 2375 });
});

test('queryOf encodes values, objects as JSON, and skips undefined', (t) => {
  t.is(queryOf({}), '');
  t.is(queryOf({ a: undefined }), '');
  t.is(
    queryOf({ all: true, t: 5, filters: { label: ['bai.session=x y'] } }),
    `?all=true&t=5&filters=${encodeURIComponent('{"label":["bai.session=x y"]}')}`,
  );
});

/** An HTTP server on a unix socket that answers by path, counting the connections it took. */
/** An HTTP server on a fresh unix socket, counting the connections it took; gone at teardown. */
async function serve(
  t: { teardown(f: () => void): void },
  handler: http.RequestListener,
): Promise<{ path: string; sockets: net.Socket[] }> {
  const path = join(tmpdir(), `bai-engine-http-${process.pid}-${Math.random().toString(36).slice(2)}.sock`);
  const sockets: net.Socket[] = [];
  const server = http.createServer(handler);
  server.on('connection', (s: net.Socket) => sockets.push(s));
  await new Promise<void>((r) => server.listen(path, r));
  t.teardown(() => {
    server.close();
    for (const s of sockets) s.destroy();
    rmSync(path, { force: true });
  });
  return { path, sockets };
}

async function engine(t: { teardown(f: () => void): void }) {
  const seen: { method: string; url: string; body: string }[] = [];
  const { path, sockets } = await serve(t, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', body });
      if (req.url === '/containers/nope/json') {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: 'No such container: nope' }));
      } else if (req.method === 'POST' && req.url?.startsWith('/containers/create')) {
        res.writeHead(201, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ Id: 'abc', Warnings: [] }));
      } else {
        res.writeHead(204);
        res.end();
      }
    });
  });
  return { path, sockets, seen };
}

test('calls share one kept connection; statuses and bodies come back as dockerode gave them', async (t) => {
  const e = await engine(t);
  const client = new EngineHttp({ socketPath: e.path });
  t.teardown(() => client.close());
  t.deepEqual(await client.call('POST', '/containers/create?name=n', 'create', { Image: 'x' }), {
    Id: 'abc',
    Warnings: [],
  });
  t.is(await client.call('POST', '/containers/abc/start', 'start'), null);
  const err = await t.throwsAsync(client.call('GET', '/containers/nope/json', 'inspect'));
  t.is(statusOf(err), 404);
  t.is(wrap('inspect container nope', err).message, 'inspect container nope: No such container: nope');
  t.is(e.sockets.length, 1);
  t.deepEqual(
    e.seen.map((s) => [s.method, s.url, s.body]),
    [
      ['POST', '/containers/create?name=n', '{"Image":"x"}'],
      ['POST', '/containers/abc/start', ''],
      ['GET', '/containers/nope/json', ''],
    ],
  );
});

test('a kept connection the engine closed is replaced, and the call answered', async (t) => {
  const e = await engine(t);
  const client = new EngineHttp({ socketPath: e.path });
  t.teardown(() => client.close());
  await client.call('POST', '/containers/abc/start', 'start');
  // The engine restarts: its end of the kept connection goes away.
  await new Promise<void>((r) => {
    e.sockets[0]!.once('close', () => r());
    e.sockets[0]!.destroy();
  });
  t.is(await client.call('POST', '/containers/abc/start', 'start'), null);
  t.is(e.seen.length, 2);
});

/**
 * An engine whose wait answers when told to, and whose logs stream two frames and ends, on one
 * server that counts its connections.
 */
async function streamingEngine(t: { teardown(f: () => void): void }) {
  const waiting: http.ServerResponse[] = [];
  const frame = (stream: number, text: string) => {
    const b = Buffer.from(text);
    const h = Buffer.alloc(8);
    h[0] = stream;
    h.writeUInt32BE(b.length, 4);
    return Buffer.concat([h, b]);
  };
  const { path, sockets } = await serve(t, (req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.endsWith('/wait')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders(); // dockerd sends the headers at once, the body when the container stops
        waiting.push(res);
      } else if (req.url?.includes('/logs')) {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
        res.write(frame(1, 'out\n'));
        res.end(frame(2, 'err\n'));
      } else {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('OK');
      }
    });
  });
  return { path, sockets, waiting };
}

test('waits and log streams go on kept connections, given back once read to their end', async (t) => {
  const e = await streamingEngine(t);
  const docker = new DockerAdapter(`unix://${e.path}`);
  t.teardown(() => docker.close());
  const wait = docker.wait('c1');
  while (e.waiting.length === 0) await docker.ping(); // a second connection: the wait holds the first
  e.waiting[0]!.end(JSON.stringify({ StatusCode: 3, Error: null }));
  t.is(await wait, 3);
  const tail = await docker.logTail('c1', 1024);
  t.deepEqual(tail, { text: 'out\nerr\n', bytes: 8, truncated: false });
  const follow = await docker.followLogs('c1', 1700000000.5);
  const chunks: Buffer[] = [];
  for await (const c of follow.stream) chunks.push(c as Buffer);
  t.is(Buffer.concat(chunks).toString(), 'out\nerr\n');
  await docker.ping();
  t.is(e.sockets.length, 2, 'two connections for a wait, two log reads and the pings');
});

test('an aborted wait ends at once with the abort reason, and its connection is closed', async (t) => {
  const e = await streamingEngine(t);
  const docker = new DockerAdapter(`unix://${e.path}`);
  t.teardown(() => docker.close());
  const ctl = new AbortController();
  const wait = docker.wait('c1', ctl.signal);
  while (e.waiting.length === 0) await docker.ping();
  const reason = new Error('cut here');
  ctl.abort(reason);
  const err = await t.throwsAsync(wait);
  t.is(err?.message, 'wait container c1: cut here');
  // The wait's connection (the first: the pings came after it) is closed by the client.
  const first = e.sockets[0]!;
  const closed = await Promise.race([
    new Promise<boolean>((r) => (first.closed ? r(true) : first.once('close', () => r(true)))),
    new Promise<boolean>((r) => setTimeout(() => r(false), 30_000).unref()),
  ]);
  t.true(closed, "the aborted wait's connection was not closed");
});

test('a large stream read slowly arrives whole, then its connection carries the next call', async (t) => {
  const big = Buffer.alloc(1 << 20);
  for (let i = 0; i < big.length; i++) big[i] = i % 251;
  const { path, sockets } = await serve(t, (req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/big') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' }); // chunked
        for (let i = 0; i < big.length; i += 60_000) res.write(big.subarray(i, i + 60_000));
        res.end();
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'keep-alive' });
        res.end('{"ok":true}');
      }
    });
  });
  const client = new EngineHttp({ socketPath: path });
  t.teardown(() => client.close());
  const stream = await client.open('GET', '/big', 'big');
  const parts: Buffer[] = [];
  for await (const c of stream) {
    parts.push(c as Buffer);
    await new Promise((r) => setImmediate(r)); // a slow reader: the socket is paused meanwhile
  }
  t.true(Buffer.concat(parts).equals(big));
  t.deepEqual(await client.call('GET', '/small', 'small'), { ok: true });
  t.is(sockets.length, 1);
});

test('a stream destroyed before its end closes its connection; the next call gets a new one', async (t) => {
  const { path, sockets } = await serve(t, (req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      if (req.url === '/endless') res.write('first');
      else res.end('{}');
    });
  });
  const client = new EngineHttp({ socketPath: path });
  t.teardown(() => client.close());
  const stream = await client.open('GET', '/endless', 'endless');
  const first = await new Promise<Buffer>((r) => stream.once('data', r));
  t.is(first.toString(), 'first');
  stream.destroy();
  await new Promise<void>((r) => (sockets[0]!.closed ? r() : sockets[0]!.once('close', () => r())));
  t.deepEqual(await client.call('GET', '/x', 'x'), {});
  t.is(sockets.length, 2);
});

test('an engine that is not there: the socket error, not a hang', async (t) => {
  const client = new EngineHttp({ socketPath: join(tmpdir(), `bai-no-engine-${process.pid}.sock`) });
  t.teardown(() => client.close());
  const err = await t.throwsAsync(client.call('GET', '/_ping', 'ping'));
  t.is((err as NodeJS.ErrnoException).code, 'ENOENT');
});

test('a call after close fails at once rather than waiting forever', async (t) => {
  const e = await engine(t);
  const client = new EngineHttp({ socketPath: e.path });
  await client.call('POST', '/containers/abc/start', 'start');
  client.close();
  await t.throwsAsync(client.call('POST', '/containers/abc/start', 'start'), { message: /closed/ });
});
