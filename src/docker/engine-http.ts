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
 * The engine's short request/response calls (inspect, create, start, remove, list…) on
 * connections kept open between calls. Through dockerode each call opened a new connection and
 * went through docker-modem's request builder (which formats its options with util.inspect for
 * a debug line even when debugging is off): about a fifth of the agent's CPU per session in a
 * drain (docs/benchmarks.md, "Round five: the JavaScript CPU"). Streams (logs, events, wait,
 * pull) stay on dockerode. A call whose kept connection the engine had closed (a restart) is
 * sent once more on a new one.
 */
export class EngineHttp {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 32, maxFreeSockets: 8 });

  constructor(private readonly address: EngineAddress) {}

  /**
   * Sends one call; resolves with the parsed JSON body (null for an empty one) of a 2xx answer,
   * rejects with EngineHttpError for any other status, or with the socket's own error.
   */
  async call<T>(method: string, path: string, what: string, body?: unknown): Promise<T | null> {
    try {
      return await this.once<T>(method, path, what, body);
    } catch (err) {
      if (!(err as { retryable?: boolean }).retryable) throw err;
      return this.once<T>(method, path, what, body);
    }
  }

  /** Closes the kept connections (the agent's shutdown). */
  close(): void {
    this.agent.destroy();
  }

  private once<T>(method: string, path: string, what: string, body: unknown): Promise<T | null> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: http.OutgoingHttpHeaders = payload
      ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }
      : {};
    return new Promise<T | null>((resolve, reject) => {
      const req = http.request({ ...this.address, method, path, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = null;
          if (text.length > 0) {
            try {
              json = JSON.parse(text);
            } catch {
              json = { message: text.trim() };
            }
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve(json as T | null);
          else reject(new EngineHttpError(status, json as { message?: string } | null, what));
        });
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept connection the engine closed meanwhile: nothing was read of this call.
        if (req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE'))
          Object.assign(err, { retryable: true });
        reject(err);
      });
      req.end(payload);
    });
  }
}
