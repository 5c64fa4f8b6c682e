import test from 'ava';
import { startTestStack, type TestStack } from '../helpers/stack.js';
import { authorizationHeader, sign } from '../../src/domain/signing.js';

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ agents: 0 });
});
test.after.always(async () => {
  await stack?.close();
});

function signed(
  method: string,
  path: string,
  opts: { date?: string; secret?: string; contentType?: string } = {},
) {
  const url = new URL(stack.manager.url);
  const date = opts.date ?? new Date().toISOString().replace('Z', '+00:00');
  const contentType = opts.contentType ?? 'application/json';
  const sig = sign(opts.secret ?? stack.database.admin.secretKey, {
    method,
    pathWithQuery: path,
    date,
    host: url.host,
    contentType,
    apiVersion: 'v6.20220315',
  });
  return {
    Date: date,
    'Content-Type': contentType,
    'X-BackendAI-Version': 'v6.20220315',
    Authorization: authorizationHeader(stack.database.admin.accessKey, sig),
  };
}

async function problem(res: Response): Promise<{ type: string; title: string; msg: string }> {
  return (await res.json()) as { type: string; title: string; msg: string };
}

test('GET / answers the version unsigned', async (t) => {
  const res = await fetch(`${stack.manager.url}/`);
  t.is(res.status, 200);
  const body = (await res.json()) as { version: string };
  t.regex(body.version, /^v\d+\.\d{8}$/);
});

test('an unsigned request gets 401 problem+json', async (t) => {
  const res = await fetch(`${stack.manager.url}/session/x`);
  t.is(res.status, 401);
  t.is(res.headers.get('content-type'), 'application/problem+json');
  t.is((await problem(res)).type, 'https://api.backend.ai/probs/auth-failed');
});

test('a wrong signature gets 401', async (t) => {
  const res = await fetch(`${stack.manager.url}/session/x`, {
    headers: signed('GET', '/session/x', { secret: 'not-the-secret' }),
  });
  t.is(res.status, 401);
  t.is(res.headers.get('content-type'), 'application/problem+json');
  t.regex((await problem(res)).msg, /Signature mismatch/);
});

test('a Date 20 minutes old gets 401', async (t) => {
  const old = new Date(Date.now() - 20 * 60_000).toISOString().replace('Z', '+00:00');
  const res = await fetch(`${stack.manager.url}/session/x`, {
    headers: signed('GET', '/session/x', { date: old }),
  });
  t.is(res.status, 401);
  t.is(res.headers.get('content-type'), 'application/problem+json');
  t.regex((await problem(res)).msg, /15 minutes/);
});

test('a correctly signed request for a missing session gets 404', async (t) => {
  const res = await fetch(`${stack.manager.url}/session/nope-nope`, {
    headers: signed('GET', '/session/nope-nope', { contentType: 'text/plain' }),
  });
  t.is(res.status, 404);
  t.is((await problem(res)).type, 'https://api.backend.ai/probs/object-not-found');
});

test('a malformed JSON body gets 400', async (t) => {
  const res = await fetch(`${stack.manager.url}/session`, {
    method: 'POST',
    headers: signed('POST', '/session'),
    body: '{"image": "python",',
  });
  t.is(res.status, 400);
  t.is(res.headers.get('content-type'), 'application/problem+json');
  t.is((await problem(res)).type, 'https://api.backend.ai/probs/generic-bad-request');
});

test('an unknown image gets 404 object-not-found', async (t) => {
  const res = await fetch(`${stack.manager.url}/session`, {
    method: 'POST',
    headers: signed('POST', '/session'),
    body: JSON.stringify({ image: 'no-such-image:1', type: 'batch', startupCommand: 'true' }),
  });
  t.is(res.status, 404);
  const p = await problem(res);
  t.is(p.type, 'https://api.backend.ai/probs/object-not-found');
  t.regex(p.msg, /unknown alias or disallowed registry/i);
  const n = (await stack.database.db('sessions').count('* as c').first()) as { c: string };
  t.is(Number(n.c), 0);
});
