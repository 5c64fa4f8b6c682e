import type { Readable } from 'node:stream';
import { EngineConnection, type Answer, type EngineAddress } from './engine-connection.js';

export type { EngineAddress } from './engine-connection.js';

/**
 * A failed call as the engine answered it: its HTTP status and its JSON body. The fields are the
 * ones dockerode's errors carry (`statusCode`, `json.message`), so docker-errors.ts reads both.
 */
export class EngineHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly json: { message?: string } | null,
    what: string,
  ) {
    super(`(HTTP code ${statusCode}) ${what}: ${json?.message ?? 'no message'}`);
    this.name = 'EngineHttpError';
  }
}

/** The address dockerode would use for `dockerHost` (null: its default socket). */
export function engineAddress(dockerHost: string | null): EngineAddress {
  if (!dockerHost) return { socketPath: '/var/run/docker.sock' };
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  const u = new URL(dockerHost.replace(/^tcp:/, 'http:'));
  return { host: u.hostname, port: Number(u.port || 2375) };
}

/** Query string of `params`; objects (Docker's `filters`) are JSON, as the engine reads them. */
export function queryOf(params: Record<string, string | number | boolean | object | undefined>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(s)}`);
  }
  return parts.length > 0 ? `?${parts.join('&')}` : '';
}

/**
 * The engine's calls on connections kept open between calls: the short request/response ones
 * (inspect, create, start, remove, list, ping…) and the streams a session reads (its wait, its
 * output followed and its stored tail). Through dockerode each call opened a new connection and
 * went through docker-modem's request builder: about a fifth of the agent's CPU per session in a
 * drain (docs/benchmarks.md, "Round five: the JavaScript CPU"). Through node's own HTTP client
 * (ClientRequest, its Agent, IncomingMessage) a call still cost 380–430 µs of CPU on the slower
 * machines (150 µs once warm), against 180–200 µs (70 µs warm) for the request written in one
 * write on an EngineConnection and the answer read by ResponseParser (http-response-parser.ts)
 * on the socket itself (docs/benchmarks.md, round twenty). A stream read to its end gives its
 * connection back for the next call. The pool is not capped: a wait holds its connection while
 * its container runs, and a cap would leave the short calls queued behind them. Only pulls stay
 * on dockerode. A call whose kept connection the engine had closed (a restart) before answering
 * a byte is sent once more, on a new connection.
 */
export class EngineHttp {
  /** Connections free for the next call, the most recently used last. */
  private readonly idle: EngineConnection[] = [];
  /** Every connection open, free or in a call (closed by `close`). */
  private readonly all = new Set<EngineConnection>();
  private closed = false;
  private readonly free = (c: EngineConnection) => {
    if (this.closed || this.idle.length >= MAX_IDLE) return c.destroy();
    c.park();
    this.idle.push(c);
  };
  private readonly gone = (c: EngineConnection) => {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  };

  constructor(private readonly address: EngineAddress) {}

  /**
   * Sends one call; resolves with the parsed JSON body (null for an empty one) of a 2xx answer,
   * rejects with EngineHttpError for any other status, or with the socket's own error. `signal`
   * ends it at once (its reason is the rejection) and closes its connection.
   */
  async call<T>(
    method: string,
    path: string,
    what: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<T | null> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const answer = await this.retried((c) => c.send(method, path, payload, signal, false));
    const parsed = jsonOf(answer.body!);
    if (answer.status >= 200 && answer.status < 300) return parsed as T | null;
    throw new EngineHttpError(answer.status, parsed as { message?: string } | null, what);
  }

  /**
   * Opens a stream (logs, events): the 2xx answer's body, unread; the caller reads it to its end
   * (the connection is then kept for the next call) or destroys it (the connection is closed).
   * Another status rejects as `call`.
   */
  async open(method: string, path: string, what: string): Promise<Readable> {
    const answer = await this.retried((c) => c.send(method, path, undefined, undefined, true));
    if (answer.stream) return answer.stream;
    throw new EngineHttpError(answer.status, jsonOf(answer.body!) as { message?: string } | null, what);
  }

  /** Closes the kept connections and those in a call (the agent's shutdown). */
  close(): void {
    this.closed = true;
    for (const c of this.all) c.destroy();
    this.all.clear();
    this.idle.length = 0;
  }

  /** On a kept connection, and once more on a new one when the kept one had gone stale. */
  private async retried(send: (c: EngineConnection) => Promise<Answer>): Promise<Answer> {
    try {
      return await send(this.idle.pop() ?? this.connect());
    } catch (err) {
      if (!(err as { retryable?: boolean }).retryable) throw err;
      return send(this.connect());
    }
  }

  private connect(): EngineConnection {
    const c = new EngineConnection(this.address, this.free, this.gone);
    this.all.add(c);
    if (this.closed) c.destroy();
    return c;
  }
}

/** Free connections kept at most (as node's Agent did with `maxFreeSockets`). */
const MAX_IDLE = 16;

/**
 * A body parsed as JSON (null when empty; a text that is not JSON becomes `{ message }`, as the
 * engine's plain-text errors).
 */
function jsonOf(chunks: Buffer[]): unknown {
  const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
  if (text.length === 0) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { message: text.trim() };
  }
}
