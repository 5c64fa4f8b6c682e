import { ApiClient } from '../../src/cli/client.js';
import type { TestStack } from './stack.js';

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** A keypair made through the admin API, with a client signing as it. */
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
    /* not JSON: keep the text */
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
  return new ApiClient({
    endpoint: stack.manager.url,
    accessKey: null,
    secretKey: null,
    token,
    domain: 'default',
    group: 'default',
    apiVersion: 'v8.20240915',
  });
}
