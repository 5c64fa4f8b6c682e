import { clientOf, type ApiClient } from '../../src/cli/client.js';
import { sseEvents } from '../../src/cli/event-stream.js';
import { batch, waitForStatus, type TestStack } from './stack.js';

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** A keypair made through the admin API, with a client signing as it. */
/**
 * Runs batch job `command` with `config` as `kp` to its end (TERMINATED, CANCELLED or ERROR);
 * its exit code and logs.
 */
export async function runJob(
  kp: { client: ApiClient },
  command: string,
  config: Record<string, unknown>,
): Promise<{ exitCode: number | null; logs: string }> {
  const r = await call<{ sessionId: string }>(kp.client, 'POST', '/session', batch(command, { config }));
  if (r.status !== 201) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
  const s = await waitForStatus(kp.client, r.body.sessionId, ['TERMINATED', 'CANCELLED', 'ERROR']);
  const logs = await call<{ result: { logs: string } }>(
    kp.client,
    'GET',
    `/session/${r.body.sessionId}/logs`,
  );
  return { exitCode: s.exitCode, logs: logs.body.result.logs };
}

export interface TestKeypair {
  accessKey: string;
  secretKey: string;
  webhookSecret: string;
  client: ApiClient;
}

/** Sends a request with `client` and returns status, parsed body and headers (no throw on 4xx). */
export async function call<T = Record<string, unknown>>(
  client: ApiClient,
  method: string,
  path: string,
  body?: unknown,
  query?: Record<string, string | undefined>,
  headers: Record<string, string> = {},
): Promise<Answer<T>> {
  const res = await client.raw(method, path, body, query, headers);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // Expected: a body that is not JSON; the test sees the text.
  }
  return { status: res.status, body: parsed as T, headers: res.headers };
}

export function slugOf(a: Answer): string {
  return String((a.body as { type?: string }).type ?? '').replace('https://api.backend.ai/probs/', '');
}

/** Creates a keypair as the stack's superadmin. */
export async function makeKeypair(
  stack: TestStack,
  fields: Record<string, unknown> = {},
  as: ApiClient = stack.client,
): Promise<TestKeypair> {
  const r = await call<{ access_key: string; secret_key: string; webhook_secret: string }>(
    as,
    'POST',
    '/keypairs',
    { user_email: `u${Math.random().toString(36).slice(2, 8)}@bai.test`, ...fields },
  );
  if (r.status !== 201) throw new Error(`keypair create: ${r.status} ${JSON.stringify(r.body)}`);
  return {
    accessKey: r.body.access_key,
    secretKey: r.body.secret_key,
    webhookSecret: r.body.webhook_secret,
    client: stack.clientFor(r.body.access_key, r.body.secret_key),
  };
}

/** A client that authenticates with a bearer token. */
export function tokenClient(stack: TestStack, token: string): ApiClient {
  return clientOf(stack.manager.url, { token });
}

export interface SseFrame {
  id: number;
  event: string;
  data: Record<string, unknown>;
}

/** An open SSE stream: frames arrive in `frames`; `until` waits for one that matches. */
export interface SseStream {
  status: number;
  frames: SseFrame[];
  until(pred: (f: SseFrame) => boolean, timeoutMs?: number): Promise<SseFrame>;
  close(): void;
}

/** Opens `GET /events/session` with `client` and reads frames in the background. */
export async function openSse(
  client: ApiClient,
  query: Record<string, string>,
  lastEventId?: number,
): Promise<SseStream> {
  const abort = new AbortController();
  const signedRes = await client.raw(
    'GET',
    '/events/session',
    undefined,
    query,
    lastEventId !== undefined ? { 'Last-Event-ID': String(lastEventId) } : {},
  );
  const frames: SseFrame[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  if (signedRes.ok && signedRes.body) {
    const reader = signedRes.body.getReader();
    // Expected: cancelling a stream the server already closed rejects; closed is what we want.
    abort.signal.addEventListener('abort', () => void reader.cancel().catch(() => {}));
    void (async () => {
      try {
        for await (const ev of sseEvents(reader)) {
          frames.push({ id: Number(ev.id), event: ev.event, data: ev.data });
          for (const w of waiters) w();
        }
      } catch {
        // Expected: the stream was cancelled (abort) or the connection closed: it has ended.
      }
      ended = true;
      for (const w of waiters) w();
    })();
  } else {
    // Expected: the body of a refused stream may be cut off; only its status matters here.
    await signedRes.text().catch(() => '');
  }
  return {
    status: signedRes.status,
    frames,
    until(pred, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = frames.find(pred);
          if (hit) {
            done();
            resolve(hit);
          } else if (ended) {
            done();
            reject(new Error(`stream ended; got ${frames.map((x) => x.event).join(',')}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timeout; got ${frames.map((x) => x.event).join(',')}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    close() {
      abort.abort();
    },
  };
}
