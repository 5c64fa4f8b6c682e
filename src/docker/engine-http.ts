import http from 'node:http';

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

/** Where the engine listens: a unix socket, or an http host and port. */
export type EngineAddress = { socketPath: string } | { host: string; port: number };

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
 * went through docker-modem's request builder (which formats its options with util.inspect for
 * a debug line even when debugging is off): about a fifth of the agent's CPU per session in a
 * drain (docs/benchmarks.md, "Round five: the JavaScript CPU"); a stream read to its end gives
 * its connection back for the next call. The pool is not capped: a wait holds its connection
 * while its container runs, and a cap would leave the short calls queued behind them. Only the
 * engine's event stream and pulls stay on dockerode. A call whose kept connection the engine
 * had closed (a restart) is sent once more on a new one.
 */
export class EngineHttp {
  private readonly agent = new http.Agent({ keepAlive: true, maxFreeSockets: 16 });

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
    const res = await this.respond(method, path, what, body, signal);
    return (await readBody(res, signal)) as T | null;
  }

  /**
   * Opens a stream (logs): the 2xx response, unread; the caller reads it to its end (the
   * connection is then kept for the next call) or destroys it. Another status rejects as `call`.
   */
  open(method: string, path: string, what: string): Promise<http.IncomingMessage> {
    return this.respond(method, path, what, undefined, undefined);
  }

  /** Closes the kept connections (the agent's shutdown). */
  close(): void {
    this.agent.destroy();
  }

  private async respond(
    method: string,
    path: string,
    what: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<http.IncomingMessage> {
    try {
      return await this.once(method, path, what, body, signal);
    } catch (err) {
      if (!(err as { retryable?: boolean }).retryable || signal?.aborted) throw err;
      return this.once(method, path, what, body, signal);
    }
  }

  private once(
    method: string,
    path: string,
    what: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): Promise<http.IncomingMessage> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = payload
      ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }
      : {};
    return new Promise<http.IncomingMessage>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const req = http.request({ ...this.address, method, path, headers, agent: this.agent }, (res) => {
        signal?.removeEventListener('abort', onAbort);
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(res);
        readBody(res, undefined).then(
          (json) => reject(new EngineHttpError(status, json as { message?: string } | null, what)),
          reject,
        );
      });
      const onAbort = () => {
        reject(signal!.reason);
        req.destroy();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err: NodeJS.ErrnoException) => {
        signal?.removeEventListener('abort', onAbort);
        // A kept connection the engine closed meanwhile: nothing was read of this call.
        if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE'))
          Object.assign(err, { retryable: true });
        reject(err);
      });
      req.end(payload);
    });
  }
}

/**
 * A response's body, parsed as JSON (null when empty; a text that is not JSON becomes
 * `{ message }`, as the engine's plain-text errors). `signal` ends the read (its reason is the
 * rejection) and closes the connection.
 */
function readBody(res: http.IncomingMessage, signal: AbortSignal | undefined): Promise<unknown> {
  return new Promise<unknown>((resolve, reject) => {
    if (signal?.aborted) {
      res.destroy();
      return reject(signal.reason);
    }
    const onAbort = () => {
      reject(signal!.reason);
      res.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      reject(err);
    });
    res.on('end', () => {
      signal?.removeEventListener('abort', onAbort);
      const text = chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8');
      if (text.length === 0) return resolve(null);
      try {
        resolve(JSON.parse(text));
      } catch {
        resolve({ message: text.trim() });
      }
    });
  });
}
