import test from 'ava';
import { request as httpRequest } from 'node:http';
import { authorizationHeader, sign } from '../../src/domain/signing.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';
import { call, makeKeypair, type TestKeypair } from '../helpers/api.js';

let stack: TestStack;
let kp: TestKeypair;
const BODY_LIMIT = 64 * 1024;
test.before(async () => {
  stack = await startTestStack({ agents: 1, manager: { bodyLimitBytes: BODY_LIMIT } });
  kp = await makeKeypair(stack);
});
test.after.always(async () => {
  await stack?.close();
});

interface Req {
  what: string;
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  /** Sign correctly (default), or leave the given headers as they are. */
  sign?: boolean;
}

const VERSION = 'v6.20220315';

/** Sends one request over a raw socket (fetch would refuse some of these headers and paths). */
function send(r: Req): Promise<{ status: number; text: string }> {
  const url = new URL(stack.manager.url);
  const date = new Date().toISOString().replace('Z', '+00:00');
  const headers: Record<string, string> = { 'X-BackendAI-Version': VERSION, Date: date };
  if (r.body !== undefined) headers['Content-Type'] = 'application/json';
  Object.assign(headers, r.headers ?? {});
  if (r.sign !== false) {
    headers.Authorization = authorizationHeader(
      kp.accessKey,
      sign(kp.secretKey, {
        method: r.method,
        pathWithQuery: r.path,
        date: headers.Date ?? date,
        host: url.host,
        contentType: headers['Content-Type'],
        apiVersion: headers['X-BackendAI-Version'] ?? VERSION,
      }),
    );
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method: r.method, path: r.path, headers, timeout: 30_000 },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', (err) => {
      // The server may answer 413 and close before a huge body is all sent.
      if (
        (err as NodeJS.ErrnoException).code === 'EPIPE' ||
        (err as NodeJS.ErrnoException).code === 'ECONNRESET'
      )
        resolve({ status: 413, text: 'connection closed after an early answer' });
      else reject(err);
    });
    if (r.body !== undefined) req.write(r.body);
    req.end();
  });
}

const post = (what: string, body: unknown, extra: Partial<Req> = {}): Req => ({
  what,
  method: 'POST',
  path: '/session',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  ...extra,
});

function malformed(): Req[] {
  const out: Req[] = [];
  const good = { image: 'python', type: 'batch', startupCommand: 'true', enqueueOnly: true };
  // Bodies that are not JSON objects.
  for (const b of [
    '{',
    '{"image": "python",',
    '{"image": python}',
    "{'image': 'python'}",
    '{"image": "python"} trailing',
    'NaN',
    '[]',
    '[1,2,3]',
    '"python"',
    '42',
    'null',
    'true',
    '{"a":1,,"b":2}',
    '\u0000',
    '\ufeff{}',
    '{"image": "\\ud800"}',
    '{"image": "\\x41"}',
    '{"__proto__": {"admin": true}}',
    '{"constructor": {"prototype": {"x": 1}}}',
  ])
    out.push(post(`body ${JSON.stringify(b).slice(0, 30)}`, b));
  // Every field with wrong types and values.
  const wrong: Record<string, unknown[]> = {
    image: [null, 42, true, [], {}, '', ' ', 'x'.repeat(600), 'no/such:image', '../../etc/passwd', '💥'],
    name: [
      42,
      [],
      {},
      'ab',
      'a'.repeat(65),
      '-lead',
      'trail-',
      'has space',
      'ünïcödé',
      '名前テスト',
      '😀😀😀😀',
      'a/b/c/d',
      'a\u0000bcd',
      '..',
    ],
    type: [1, 'batchy', 'BATCH', [], {}],
    startupCommand: [1, [], {}, false, 'x'.repeat(70_000), '   '],
    priority: [-1, 101, 1.5, 'high', [], {}, 1e308, '99999999999999999999'],
    clusterSize: [0, -1, 65, 1000, 'two', 1.5],
    clusterMode: ['mesh', 1, []],
    maxWaitSeconds: [-1, 86401, 'forever', 1.5],
    enqueueOnly: ['maybe', 2, [], {}],
    reuseIfExists: ['perhaps', 7],
    starts_at: [
      'tomorrow-ish',
      'not a time',
      '2026-13-45T99:99:99Z',
      '1e9999',
      '--5m',
      42,
      [],
      '1h1h1h1h1h1h1h1h',
    ],
    batch_timeout: ['forever', -5, '5 fortnights', [], {}, 'NaN'],
    dependencies: [
      'abc',
      [1, 2],
      [null],
      [''],
      ['no-such-dependency'],
      Array.from({ length: 100 }, (_, i) => `d${i}`),
    ],
    callback_url: ['javascript:alert(1)', 'ftp://x/y', 'not a url', 42, 'file:///etc/passwd', 'http://'],
    tag: [42, [], {}, 'x'.repeat(300)],
    bootstrap_script: [42, [], {}],
    owner_access_key: [42, [], 'AKIANOSUCHKEY00000', 'x'.repeat(100)],
    domain: [42, 'nosuchdomain', 'x'.repeat(100)],
    group: [42, [], 'x'.repeat(100), 'not-a-member-group'],
    architecture: [42, [], 'x 86', 'riscv-none', 'x'.repeat(100)],
    job_priority: ['high', 1.5],
    is_preemptible: ['maybe', 3],
  };
  for (const [field, values] of Object.entries(wrong))
    for (const v of values)
      out.push(post(`${field}=${JSON.stringify(v).slice(0, 30)}`, { ...good, [field]: v }));
  const config: Record<string, unknown[]> = {
    mounts: ['vf1', [1], ['/etc'], ['../up'], ['a:rx'], ['..'], [''], ['x'.repeat(300)], ['/'], [{}]],
    mount_map: [
      [],
      'x',
      { vf1: '/proc' },
      { vf1: '../../x' },
      { vf1: '/' },
      { vf1: {} },
      { vf1: '/etc/shadow' },
    ],
    environ: [
      [],
      'K=V',
      { '1BAD': 'x' },
      { 'A-B': 'x' },
      { K: {} },
      { K: [] },
      { '': 'x' },
      { 'K\u0000': 'v' },
    ],
    resources: [
      [],
      'lots',
      { cpu: -1 },
      { cpu: 'many' },
      { mem: '4zb' },
      { mem: '-4g' },
      { cpu: 0 },
      { mem: '1k' },
      { gpu: 1 },
      { cpu: 1e9 },
      { cpu: {} },
    ],
    resource_opts: [[], { shmem: '1t' }, { shmem: 'lots' }, { swap: '1g' }, { shmem: -1 }],
    scalingGroup: [42, 'nosuchgroup', [], 'x'.repeat(100)],
    preopen_ports: [[8080], 'x', 8080],
    agentList: [['i-agent'], 'x'],
    attach_network: ['9e0c2a4e-7f1d-4a43-9b57-5d6f0a1b2c3d', 42],
    instanceMemory: ['1g'],
  };
  for (const [field, values] of Object.entries(config))
    for (const v of values)
      out.push(
        post(`config.${field}=${JSON.stringify(v).slice(0, 30)}`, { ...good, config: { [field]: v } }),
      );
  out.push(post('config is a list', { ...good, config: [] }));
  out.push(post('config is a string', { ...good, config: 'x' }));
  out.push(post('interactive with starts_at', { image: 'python', type: 'interactive', starts_at: '5m' }));
  out.push(
    post('interactive with batch_timeout', { image: 'python', type: 'interactive', batch_timeout: 5 }),
  );
  out.push(post('batch without command', { image: 'python', type: 'batch' }));
  out.push(post('retry wrong', { ...good, retry: { max_attempts: 99 } }));
  out.push(post('retry cause', { ...good, retry: { on: ['sunspots'] } }));
  // Huge and deeply nested JSON.
  out.push(post('body above the limit', { ...good, tag: 'x'.repeat(BODY_LIMIT + 10) }));
  out.push(post('huge body, 2 MB', 'x'.repeat(2 * 1024 * 1024)));
  for (const depth of [33, 100, 1000, 5000, 20000])
    out.push(post(`nested objects ${depth}`, `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));
  for (const depth of [40, 2000, 20000])
    out.push(post(`nested arrays ${depth}`, `${'['.repeat(depth)}${']'.repeat(depth)}`));
  out.push(
    post('nested in config', {
      ...good,
      config: { environ: JSON.parse(`${'{"a":'.repeat(40)}1${'}'.repeat(40)}`) },
    }),
  );
  out.push(post('many keys', Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`k${i}`, i]))));
  out.push(post('declared length lies', '{}', { headers: { 'Content-Length': String(BODY_LIMIT * 10) } }));
  // Headers and signatures.
  const hdr = (what: string, headers: Record<string, string>, signIt = false): Req => ({
    what,
    method: 'GET',
    path: '/session/anything',
    headers,
    sign: signIt,
  });
  for (const a of [
    'BackendAI',
    'BackendAI signMethod=HMAC-SHA256',
    'BackendAI signMethod=HMAC-SHA256, credential=',
    'BackendAI signMethod=HMAC-SHA256, credential=AK',
    `BackendAI signMethod=HMAC-SHA256, credential=${kp.accessKey}:`,
    `BackendAI signMethod=HMAC-SHA256, credential=${kp.accessKey}:zzzz`,
    `BackendAI signMethod=HMAC-SHA256, credential=${kp.accessKey}:${'0'.repeat(64)}`,
    `BackendAI signMethod=HMAC-SHA256, credential=${kp.accessKey}:${'a'.repeat(10_000)}`,
    `BackendAI signMethod=HMAC-MD5, credential=${kp.accessKey}:${'0'.repeat(32)}`,
    `BackendAI signMethod=HMAC-NOPE, credential=${kp.accessKey}:00`,
    `Sorna signMethod=HMAC-SHA256, credential=${kp.accessKey}:${'f'.repeat(64)}`,
    `BackendAI signMethod=HMAC-SHA256, credential=ÄÖÜ:${'0'.repeat(64)}`,
    `BackendAI signMethod=HMAC-SHA256, credential=${'K'.repeat(5000)}:00`,
    'Basic dXNlcjpwYXNz',
    'Bearer',
    'Bearer ',
    `Bearer ${'t'.repeat(600)}`,
    'Bearer bai_forged',
    'Bearer \u00e9\u00e9',
    'Digest username="x"',
    'x'.repeat(8000),
  ])
    out.push(hdr(`authorization ${a.slice(0, 40)}`, { Authorization: a }));
  const ak = kp.accessKey;
  const zeros = `BackendAI signMethod=HMAC-SHA256, credential=${ak}:${'0'.repeat(64)}`;
  for (const d of [
    '',
    'yesterday',
    '2026-99-99',
    '0',
    '-1',
    'Thu, 01 Jan 1970 00:00:00 GMT',
    '3000-01-01T00:00:00+00:00',
    'x'.repeat(5000),
    '2026-11-27T25:61:61Z',
  ])
    out.push(hdr(`date ${d.slice(0, 30)}`, { Date: d, Authorization: zeros }));
  for (const v of ['v1', 'v99.20990101', 'latest', 'v6.2022031', 'x'.repeat(100), '']) {
    out.push({
      what: `version ${v.slice(0, 20)}`,
      method: 'GET',
      path: '/session/anything',
      headers: { 'X-BackendAI-Version': v },
    });
  }
  out.push({
    what: 'signed for another path',
    method: 'GET',
    path: '/session/anything',
    headers: {},
    sign: false,
  });
  out.push(hdr('old date, signed', { Date: new Date(Date.now() - 3600_000).toISOString() }, true));
  out.push(hdr('future date, signed', { Date: new Date(Date.now() + 3600_000).toISOString() }, true));
  // Paths, names and queries.
  for (const ref of [
    '%F0%9F%98%80',
    '%E0%A4%A',
    '%00',
    'a%00b',
    '%25',
    '%2e%2e%2f%2e%2e%2fetc',
    '..%2F..%2F',
    'x'.repeat(300),
    '%C3%BC%C3%B1%C3%AF',
    '名前',
    '0000',
    'ffffffff-ffff-ffff-ffff-fffffffffffff',
    '%0d%0aSet-Cookie:x',
    "'; DROP TABLE sessions; --",
  ]) {
    const p = `/session/${encodeURI(ref).replaceAll('%25', '%')}`;
    out.push({ what: `GET ${ref.slice(0, 20)}`, method: 'GET', path: p });
    out.push({ what: `logs ${ref.slice(0, 20)}`, method: 'GET', path: `${p}/logs` });
    out.push({ what: `DELETE ${ref.slice(0, 20)}`, method: 'DELETE', path: p });
    out.push({ what: `history ${ref.slice(0, 20)}`, method: 'GET', path: `${p}/status-history` });
  }
  for (const q of [
    'status=NAPPING',
    'limit=-5&order=secret_key',
    'order=%00',
    'name=%00',
    'tag=%ff',
    'created_after=soon',
    'created_before=2026-02-31T99:00',
    'owner_access_key=AKIANOSUCH',
    'owner_access_key=%00',
    'status=PENDING,%00',
  ])
    out.push({ what: `list ?${q}`, method: 'GET', path: `/sessions?${q}` });
  for (const q of [
    'scope=everything',
    'sessionName=no-such-session',
    'sessionId=0000',
    'ownerAccessKey=AKIANOSUCH',
    'sessionName=%00',
    'lastEventId=abc',
  ])
    out.push({ what: `events ?${q}`, method: 'GET', path: `/events/session?${q}` });
  for (const [m, p] of [
    ['PUT', '/session'],
    ['PATCH', '/session/x'],
    ['GET', '/nope'],
    ['POST', '/session/x/logs'],
    ['GET', '/admin'],
    ['POST', '/keypairs'],
    ['PATCH', '/agents/x'],
    ['POST', '/images'],
    ['DELETE', '/tokens/not-a-uuid'],
    ['GET', '/keypairs/%00'],
    ['PUT', '/image-aliases/x'],
    ['POST', '/domains'],
  ])
    out.push({
      what: `${m} ${p}`,
      method: m!,
      path: p!,
      body: m === 'GET' || m === 'DELETE' ? undefined : '{"x":1}',
    });
  return out;
}

test('500+ malformed requests get only 4xx, the manager stays healthy and no half-written session is left', async (t) => {
  const base = malformed();
  // Each case also goes out in a second variant (same malformation, other spelling/client) to pass 500.
  const variants: Req[] = base.flatMap((r) => [
    r,
    { ...r, what: `${r.what} (v8)`, headers: { 'X-BackendAI-Version': 'v8.20240915', ...(r.headers ?? {}) } },
  ]);
  t.true(variants.length >= 500, `${variants.length} requests`);
  t.log(`${variants.length} malformed requests`);
  const answers: { r: Req; status: number; text: string; ms: number }[] = [];
  for (let i = 0; i < variants.length; i += 16) {
    const chunk = variants.slice(i, i + 16);
    const got = await Promise.all(
      chunk.map(async (r) => {
        const t0 = Date.now();
        const a = await send(r);
        return { r, ...a, ms: Date.now() - t0 };
      }),
    );
    answers.push(...got);
  }
  t.log(
    [...answers]
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 8)
      .map((a) => `${a.r.what} ${a.ms} ms`),
  );
  const bad = answers.filter((a) => a.status < 400 || a.status >= 500);
  t.deepEqual(
    bad.map((a) => `${a.r.what}: ${a.status} ${a.text.slice(0, 200)}`),
    [],
  );
  // Every 4xx is problem+json with a slug (apart from the socket closed early on a huge body).
  const notProblem = answers.filter((a) => a.text.startsWith('{') && !/probs\//.test(a.text));
  t.deepEqual(
    notProblem.map((a) => a.r.what),
    [],
  );

  // Nothing was created, nothing half-written: every session has its kernels and first event.
  const rows = (await stack.database.db('sessions').where({ access_key: kp.accessKey })) as unknown[];
  t.is(rows.length, 0);
  const orphans = await stack.database.db.raw(
    `SELECT s.id FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM kernels k WHERE k.session_id = s.id)
        OR NOT EXISTS (SELECT 1 FROM session_events e WHERE e.session_id = s.id AND e.name = 'session_enqueued')`,
  );
  t.is((orphans as { rows: unknown[] }).rows.length, 0);
  t.is(
    Number(
      (
        (await stack.database
          .db('kernels')
          .whereNotIn('session_id', stack.database.db('sessions').select('id'))
          .count('* as n')
          .first()) as { n: string }
      ).n,
    ),
    0,
  );

  // Still healthy: it negotiates and runs a job.
  const hello = await fetch(`${stack.manager.url}/`);
  t.is(hello.status, 200);
  const ok = await call<{ sessionId: string }>(
    kp.client,
    'POST',
    '/session',
    batch('echo alive', { name: 'after-fuzz' }),
  );
  t.is(ok.status, 201);
  const s = await waitForStatus(kp.client, ok.body.sessionId);
  t.is(s.result, 'SUCCESS');
});
