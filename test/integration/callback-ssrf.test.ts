import test from 'ava';
import { eventually } from '../helpers/eventually.js';
import { createHmac } from 'node:crypto';
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { call, makeKeypair, type TestKeypair } from '../helpers/api.js';
import { testEnv } from '../helpers/env.js';
import { batch, startTestStack, type TestStack } from '../helpers/stack.js';

/**
 * callback_url cannot reach inside the service's network: every spelling of loopback, the
 * link-local metadata address, the manager's own port and Redis's are refused at send time and
 * never contacted (a loopback listener counts connections), and the refusal is in the
 * session's callback history. A host the operator allow-lists still gets signed callbacks, and
 * a redirect from it is not followed.
 */

let stack: TestStack;
let user: TestKeypair;
let counter: TcpServer;
let counter6: TcpServer | null = null;
let allowed: Server;
let connections = 0;
const hits: { url: string; headers: IncomingHttpHeaders; body: string }[] = [];

function listen(server: TcpServer | Server, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port));
  });
}

test.before(async () => {
  counter = createTcpServer((sock) => {
    connections += 1;
    sock.destroy();
  });
  const counterPort = await listen(counter, '127.0.0.1');
  allowed = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      hits.push({ url: req.url ?? '', headers: req.headers, body });
      if (req.url?.startsWith('/redirect')) {
        res.statusCode = 307;
        res.setHeader('Location', `http://127.0.0.1:${counterPort}/followed`);
      }
      res.end();
    });
  });
  const allowedPort = await listen(allowed, '127.0.0.1');
  stack = await startTestStack({
    agents: 1,
    manager: { callbackAllowList: [`127.0.0.1:${allowedPort}`] },
  });
  user = await makeKeypair(stack);
});
test.after.always(async () => {
  await stack?.close();
  counter?.close();
  counter6?.close();
  allowed?.close();
});

interface Delivery {
  event: string;
  url: string;
  outcome: string;
  error: string | null;
  attempts: number;
}

/** Submits a session (starting in two hours: its `enqueued` callback goes at once) with this callback. */
async function submit(callbackUrl: string): Promise<string> {
  const r = await call<{ sessionId: string }>(
    user.client,
    'POST',
    '/session',
    batch('true', { callback_url: callbackUrl, starts_at: '2h' }),
  );
  if (r.status !== 201) throw new Error(`${callbackUrl}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.sessionId;
}

/** The session's callback history once its first delivery has an outcome. */
async function settled(sessionId: string): Promise<Delivery[]> {
  let items: Delivery[] = [];
  return eventually(
    async () => {
      const r = await call<{ items: Delivery[] }>(user.client, 'GET', `/session/${sessionId}/callbacks`);
      if (r.status !== 200) throw new Error(`callbacks: ${r.status}`);
      items = r.body.items;
      return items.length > 0 && items.every((d) => d.outcome !== 'pending') ? items : null;
    },
    { message: () => `callbacks to settle (still pending: ${JSON.stringify(items)})` },
  );
}

test.serial(
  'callbacks to loopback, link-local, the manager and Redis are refused and never contacted',
  async (t) => {
    const port = (counter.address() as AddressInfo).port;
    // [::1] gets a listener of its own where the machine has IPv6 loopback.
    let port6 = port;
    try {
      counter6 = createTcpServer((sock) => {
        connections += 1;
        sock.destroy();
      });
      port6 = await listen(counter6, '::1');
    } catch {
      counter6 = null;
    }
    const manager = new URL(stack.manager.url);
    const redis = new URL(testEnv().redisUrl);
    const urls = [
      `http://127.0.0.1:${port}/`,
      `http://localhost:${port}/hook`,
      `http://0x7f000001:${port}/`,
      `http://2130706433:${port}/`,
      `http://127.1:${port}/`,
      `http://[::1]:${port6}/`,
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://169.254.169.254/latest/meta-data/`,
      `http://127.0.0.1:${manager.port}/`,
      `http://${redis.hostname}:${redis.port || 6379}/`,
    ];
    const ids = await Promise.all(urls.map((u) => submit(u)));
    for (const [i, id] of ids.entries()) {
      const history = await settled(id);
      const first = history[0]!;
      t.is(first.event, 'enqueued', urls[i]);
      t.is(first.outcome, 'refused', `${urls[i]}: ${JSON.stringify(first)}`);
      t.regex(String(first.error), /(loopback|link-local) address/, urls[i]);
      t.is(first.attempts, 1, 'a refusal is not retried');
    }
    t.is(connections, 0, 'nothing connected to the loopback listeners');
    t.is(hits.length, 0);
    for (const id of ids) await call(user.client, 'DELETE', `/session/${id}`);
  },
);

test.serial('an allow-listed host gets signed callbacks; a redirect from it is not followed', async (t) => {
  const port = (allowed.address() as AddressInfo).port;
  const id = await submit(`http://127.0.0.1:${port}/hook`);
  const history = await settled(id);
  t.is(history[0]!.outcome, 'delivered', JSON.stringify(history));
  const hit = hits.find((h) => h.url === '/hook')!;
  t.truthy(hit);
  const { body: me } = await call<{ webhook_secret: string }>(user.client, 'GET', '/keypairs/me');
  t.is(
    hit.headers['x-bai-signature'],
    `sha256=${createHmac('sha256', me.webhook_secret).update(hit.body).digest('hex')}`,
  );
  t.is((JSON.parse(hit.body) as { session_id: string }).session_id, id);

  const redirected = await submit(`http://127.0.0.1:${port}/redirect`);
  const h2 = await settled(redirected);
  t.is(h2[0]!.outcome, 'redirected', JSON.stringify(h2));
  t.regex(String(h2[0]!.error), /HTTP 307 redirect not followed/);
  t.is(h2[0]!.attempts, 1);
  t.is(hits.filter((h) => h.url === '/redirect').length, 1, 'asked once, not retried');
  t.is(connections, 0, 'the redirect target was never contacted');
  for (const s of [id, redirected]) await call(user.client, 'DELETE', `/session/${s}`);
});
