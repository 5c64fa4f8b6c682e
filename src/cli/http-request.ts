import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';

/** The part of a fetch `Response` the API client reads from a buffered answer. */
export interface BufferedResponse {
  ok: boolean;
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/**
 * One HTTP request through node:http (node:https for an https endpoint), its answer read whole:
 * for the CLI's JSON calls, because the first `fetch` of a process costs it more CPU time than all
 * the rest of `bai session info` (Node compiles its bundled undici on first use; measured in
 * docs/benchmarks.md, "Round two: CLI start and footprint"). A failure to connect rejects as
 * fetch's does, an Error whose `cause` is the system error (ECONNREFUSED…), so callers read both
 * alike.
 */
export async function bufferedRequest(
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
): Promise<BufferedResponse> {
  const res = await open(url, init);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of res) chunks.push(chunk as Buffer);
  } catch (err) {
    throw new Error('request failed', { cause: err });
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return { ...head(res), text: () => Promise.resolve(text) };
}

/** An answer whose body is read as it comes (a logs follow stream). */
export interface StreamedResponse extends BufferedResponse {
  /** The body's bytes as they arrive; a connection cut mid-answer rejects the iteration. */
  body: AsyncIterable<Buffer>;
}

/** One request through node:http as bufferedRequest sends it, its answer's body left to read. */
export async function streamedRequest(
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
): Promise<StreamedResponse> {
  const res = await open(url, init);
  return {
    ...head(res),
    body: res,
    text: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  };
}

async function open(
  url: URL,
  init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
): Promise<IncomingMessage> {
  const send =
    url.protocol === 'https:'
      ? (await import('node:https')).request
      : url.protocol === 'http:'
        ? httpRequest
        : null;
  if (!send) throw new TypeError(`unsupported protocol ${url.protocol} in ${url.href}`);
  const headers: Record<string, string> = { ...init.headers };
  if (init.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(init.body));
  const opts: RequestOptions = { method: init.method, headers, signal: init.signal };
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(url, opts, resolve);
    req.on('error', (err) => reject(new Error('request failed', { cause: err })));
    req.end(init.body);
  });
}

function head(res: IncomingMessage): Omit<BufferedResponse, 'text'> {
  const status = res.statusCode ?? 0;
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: {
      get(name: string): string | null {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
    },
  };
}
