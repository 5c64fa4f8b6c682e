import test from 'ava';
import { HttpFramingError, ResponseParser } from '../../src/docker/http-response-parser.js';

/** What a parser told its sink, fed `bytes` split at every `step` bytes (1: byte by byte). */
function parse(bytes: string | Buffer, step: number, opts: { head?: boolean; eof?: boolean } = {}) {
  const got = { status: 0, headers: new Map<string, string>(), body: '', ends: 0 };
  const p = new ResponseParser(
    {
      head: (status, headers) => {
        got.status = status;
        got.headers = new Map(headers);
      },
      data: (c) => (got.body += c.toString('latin1')),
      end: () => got.ends++,
    },
    opts.head ?? false,
  );
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
  for (let i = 0; i < b.length; i += step) p.push(b.subarray(i, i + step));
  if (opts.eof) p.eof();
  return { ...got, done: p.done, keepAlive: p.keepAlive };
}

/** Every way of splitting the bytes gives the same answer as one push. */
function everySplit(t: { deepEqual(a: unknown, b: unknown, m?: string): void }, bytes: string, opts = {}) {
  const whole = parse(bytes, bytes.length, opts);
  for (const step of [1, 2, 3, 5, 7, 13]) t.deepEqual(parse(bytes, step, opts), whole, `split every ${step}`);
  return whole;
}

test('a body framed by Content-Length, split anywhere', (t) => {
  const r = everySplit(
    t,
    'HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"Id":"ab"}',
  );
  t.is(r.status, 201);
  t.is(r.body, '{"Id":"ab"}');
  t.is(r.headers.get('content-type'), 'application/json');
  t.true(r.done);
  t.is(r.ends, 1);
  t.true(r.keepAlive);
});

test('a chunked body with an extension and trailers, split anywhere', (t) => {
  const r = everySplit(
    t,
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nout\n\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n',
  );
  t.is(r.body, 'out\n0123456789');
  t.true(r.done);
  t.is(r.ends, 1);
  t.true(r.keepAlive);
});

test('no body: 204, 304, a HEAD answer whatever its length says, and Content-Length 0', (t) => {
  for (const head of [
    'HTTP/1.1 204 No Content\r\n\r\n',
    'HTTP/1.1 304 Not Modified\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
  ]) {
    const r = everySplit(t, head);
    t.true(r.done, head);
    t.is(r.ends, 1);
    t.is(r.body, '');
  }
  const h = everySplit(t, 'HTTP/1.1 200 OK\r\nContent-Length: 512\r\n\r\n', { head: true });
  t.true(h.done);
  t.is(h.ends, 1);
});

test('an interim 100 answer is skipped for the real one', (t) => {
  const r = everySplit(
    t,
    'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}',
  );
  t.is(r.status, 404);
  t.is(r.body, '{}');
});

test('a body that runs to the connection end ends with it, and the connection is not kept', (t) => {
  const bytes = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it';
  const open = parse(bytes, 4);
  t.false(open.done);
  t.is(open.ends, 0);
  const r = parse(bytes, 4, { eof: true });
  t.is(r.body, 'all of it');
  t.true(r.done);
  t.is(r.ends, 1);
  t.false(r.keepAlive);
});

test('Connection: close, HTTP/1.0, and bytes after the answer: not kept', (t) => {
  t.false(parse('HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n', 3).keepAlive);
  t.false(parse('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx', 3).keepAlive);
  t.true(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx', 3).keepAlive);
  const extra = parse('HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1', 100);
  t.is(extra.body, 'x');
  t.true(extra.done);
  t.false(extra.keepAlive);
});

test('an answer cut short, or malformed, is an error', (t) => {
  t.throws(() => parse('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab', 1, { eof: true }), {
    instanceOf: HttpFramingError,
  });
  t.throws(() => parse('HTTP/1.1 200 OK\r\nCont', 1, { eof: true }), { instanceOf: HttpFramingError });
  t.throws(() => parse('SSH-2.0-OpenSSH\r\n\r\n', 1), { instanceOf: HttpFramingError });
  t.throws(() => parse('HTTP/1.1 200 OK\r\nbroken header\r\n\r\n', 1), { instanceOf: HttpFramingError });
  t.throws(() => parse('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 1), { instanceOf: HttpFramingError });
  t.throws(() => parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 1), {
    instanceOf: HttpFramingError,
  });
  t.throws(() => parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy', 1), {
    instanceOf: HttpFramingError,
  });
  const huge = Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nX: '), Buffer.alloc(70_000, 0x61)]);
  t.throws(() => parse(huge, 4096), { instanceOf: HttpFramingError, message: /longer than/ });
});

test('binary bodies pass through unchanged (the engine multiplexes output in 8-byte frames)', (t) => {
  const frame = Buffer.from([1, 0, 0, 0, 0, 0, 0, 3, 0xff, 0x0d, 0x0a]);
  const bytes = Buffer.concat([
    Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n'),
    frame,
    Buffer.from('\r\n0\r\n\r\n'),
  ]);
  for (const step of [1, 4, 100]) {
    const r = parse(bytes, step);
    t.deepEqual(Buffer.from(r.body, 'latin1'), frame);
    t.true(r.done);
  }
});
