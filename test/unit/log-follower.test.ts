import test from 'ava';
import type { ApiClient } from '../../src/cli/client.js';
import type { StreamedResponse } from '../../src/cli/http-request.js';
import { LogFollower } from '../../src/cli/log-follower.js';

type Query = Record<string, string | undefined>;

/** An answer whose body yields `chunks`, then fails with `cut` when given (a connection cut). */
function answer(chunks: (string | Buffer)[], type = 'application/x-ndjson', cut?: Error): StreamedResponse {
  async function* body() {
    for (const c of chunks) yield Buffer.isBuffer(c) ? c : Buffer.from(c);
    if (cut) throw cut;
  }
  return {
    ok: true,
    status: 200,
    headers: { get: (name) => (name.toLowerCase() === 'content-type' ? type : null) },
    body: body(),
    text: async () => chunks.join(''),
  };
}

/** A client whose stream() answers from `streams` in turn, recording each query. */
function fakeClient(streams: StreamedResponse[], pages: unknown[] = []) {
  const asked: { kind: 'stream' | 'request'; query: Query }[] = [];
  const client = {
    stream: async (_m: string, _p: string, query: Query) => {
      asked.push({ kind: 'stream', query });
      const next = streams.shift();
      if (!next) throw new Error('no more streams');
      return next;
    },
    request: async (_m: string, _p: string, _b: unknown, query: Query) => {
      asked.push({ kind: 'request', query });
      return pages.shift();
    },
  } as unknown as ApiClient;
  return { client, asked };
}

const line = (page: Record<string, unknown>) => `${JSON.stringify(page)}\n`;

test('a cut stream is followed on from its last cursor: each byte once, split characters whole', async (t) => {
  const euro = Buffer.from(line({ logs: '€\n', cursor: '2-0', offset: 2 }));
  const { client, asked } = fakeClient([
    // Pages split anywhere, a character across two chunks, then the connection is cut
    // in the middle of a third page (which is not printed: it came incomplete).
    answer(
      [
        line({ logs: 'a\n', cursor: '1-0', offset: 0 }).slice(0, 7),
        line({ logs: 'a\n', cursor: '1-0', offset: 0 }).slice(7),
        euro.subarray(0, 11),
        euro.subarray(11),
        '{"logs":"lost',
      ],
      'application/x-ndjson',
      new Error('socket hang up'),
    ),
    answer([line({ logs: 'b\n', cursor: '3-0', offset: 6 }), line({ logs: '', cursor: '3-0', ended: true })]),
  ]);
  let out = '';
  const f = new LogFollower(client, 's1', (text) => {
    out += text;
  });
  const never = new AbortController().signal;
  t.false(await f.follow(never), 'a failure: pace, then follow on');
  t.is(out, 'a\n€\n');
  t.false(await f.follow(never), 'the kernel ended');
  t.is(out, 'a\n€\nb\n');
  t.deepEqual(
    asked.map((a) => [a.kind, a.query.after, a.query.follow]),
    [
      ['stream', '0', '1'],
      ['stream', '2-0', '1'],
    ],
  );
  t.false(f.truncated);
});

test('a stream that skipped output says so; one the manager ended early follows on at once', async (t) => {
  const { client } = fakeClient([
    answer([line({ logs: 'x\n', cursor: '1-0', offset: 0 })]),
    answer([
      line({ logs: 'tail\n', cursor: '9-0', offset: 100 }),
      line({ logs: '', cursor: '9-0', ended: true }),
    ]),
  ]);
  let out = '';
  const notes: string[] = [];
  const f = new LogFollower(
    client,
    's1',
    (text) => {
      out += text;
    },
    {},
    (n) => notes.push(n),
  );
  const never = new AbortController().signal;
  t.true(await f.follow(never), 'ended by the manager without `ended`: follow on at once');
  t.false(await f.follow(never));
  t.is(out, 'x\ntail\n');
  t.true(f.truncated);
  t.is(notes.length, 1);
});

test('a manager without follow streams answers a plain page: printed, then polled with wait_ms', async (t) => {
  const { client, asked } = fakeClient(
    [answer([JSON.stringify({ result: { logs: 'old\n', cursor: '1-0', more: false } })], 'application/json')],
    [{ result: { logs: 'er\n', cursor: '2-0', more: false } }],
  );
  let out = '';
  const f = new LogFollower(
    client,
    's1',
    (text) => {
      out += text;
    },
    {},
    () => {},
    10_000,
  );
  const never = new AbortController().signal;
  t.true(await f.follow(never));
  t.true(await f.follow(never));
  t.is(out, 'old\ner\n');
  t.deepEqual(
    asked.map((a) => [a.kind, a.query.after, a.query.wait_ms]),
    [
      ['stream', '0', undefined],
      ['request', '1-0', '10000'],
    ],
  );
});
