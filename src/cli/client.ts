import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientConfig } from '../config/config.js';
import { loadClientConfig, stateDirOf } from '../config/config.js';
import { envFileOf, readEnvFile } from '../config/env-file.js';
import { BaiError } from '../domain/errors.js';
import { authorizationHeader, sign } from '../domain/signing.js';
import {
  bufferedRequest,
  streamedRequest,
  type BufferedResponse,
  type StreamedResponse,
} from './http-request.js';

/** A server's problem+json answer, carried to the CLI's error output and exit code. */
export class ApiError extends BaiError {
  constructor(
    status: number,
    readonly problem: { type?: string; title?: string; msg?: string; data?: unknown },
  ) {
    const code = (problem.type ?? '').split('/').pop() || 'http-error';
    super(code, status, problem.title ?? `HTTP ${status}`, problem.msg ?? problem.title ?? `HTTP ${status}`, {
      data: problem.data,
    });
  }
}

export class NetworkError extends BaiError {
  constructor(endpoint: string, request: string, cause: unknown) {
    // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND…) is its cause.
    const inner = (cause as { cause?: { code?: string; message?: string } })?.cause;
    const why = inner?.code ?? inner?.message ?? (cause as Error)?.message ?? String(cause);
    super(
      'network-error',
      0,
      'Network error.',
      `Cannot reach the manager at ${endpoint} (${request}): ${why}`,
      {
        cause,
      },
    );
  }
}

/** Where the user's config file is: $BAI_CONFIG, else $XDG_CONFIG_HOME/bai/config.json, else ~/.config/bai/config.json. */
export function configFileOf(env: NodeJS.ProcessEnv): string | null {
  if (env.BAI_CONFIG) return env.BAI_CONFIG;
  const base = env.XDG_CONFIG_HOME || (env.HOME ? join(env.HOME, '.config') : null);
  return base ? join(base, 'bai', 'config.json') : null;
}

/** The config file's keys and the BACKEND_* variables they stand for. */
const FILE_KEYS: Record<string, string> = {
  endpoint: 'BACKEND_ENDPOINT',
  accessKey: 'BACKEND_ACCESS_KEY',
  secretKey: 'BACKEND_SECRET_KEY',
  token: 'BAI_TOKEN',
  domain: 'BACKEND_DOMAIN',
  group: 'BACKEND_GROUP',
  apiVersion: 'BACKEND_API_VERSION',
};

/** Reads the config file (JSON, keys as in FILE_KEYS) as BACKEND_* variables. */
export function readConfigFile(file: string | null): Record<string, string> {
  if (!file || !existsSync(file)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new BaiError(
      'invalid-config',
      0,
      'Invalid config file.',
      `${file} is not JSON: ${(err as Error).message}`,
    );
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new BaiError('invalid-config', 0, 'Invalid config file.', `${file} must hold a JSON object.`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    const key = FILE_KEYS[k];
    if (!key)
      throw new BaiError(
        'invalid-config',
        0,
        'Invalid config file.',
        `${file}: unknown key "${k}" (known: ${Object.keys(FILE_KEYS).join(', ')}).`,
      );
    if (typeof v === 'string') out[key] = v;
  }
  return out;
}

export type ConfigSource = 'flag' | 'env' | 'state-dir' | 'config-file' | 'default';

/**
 * Client settings, each from the first place that has it: `--endpoint`, the BACKEND_*
 * environment, .bai/env of `bai up` (this project's stack), the user's config file, defaults.
 */
export function resolveClientConfig(
  env: NodeJS.ProcessEnv,
  overrides: { endpoint?: string } = {},
): {
  config: ClientConfig;
  sources: Record<string, ConfigSource>;
  files: { stateEnv: string; config: string | null };
} {
  const stateEnv = envFileOf(stateDirOf(env));
  const configFile = configFileOf(env);
  const layers: [ConfigSource, Record<string, string | undefined>][] = [
    ['flag', { BACKEND_ENDPOINT: overrides.endpoint }],
    [
      'env',
      Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('BACKEND_') || k === 'BAI_TOKEN')),
    ],
    ['state-dir', readEnvFile(stateEnv)],
    ['config-file', readConfigFile(configFile)],
  ];
  const merged: Record<string, string> = {};
  const sources: Record<string, ConfigSource> = {};
  // A keypair comes whole from one place: never an access key from here and a secret from there.
  const groups = [
    ['BACKEND_ACCESS_KEY', 'BACKEND_SECRET_KEY'],
    ...Object.values(FILE_KEYS)
      .filter((k) => k !== 'BACKEND_ACCESS_KEY' && k !== 'BACKEND_SECRET_KEY')
      .map((k) => [k]),
  ];
  for (const keys of groups) {
    for (const key of keys) sources[key] = 'default';
    for (const [source, values] of layers) {
      const v = values[keys[0]!];
      if (v !== undefined && v !== '') {
        for (const key of keys) {
          if (values[key] === undefined) continue;
          merged[key] = values[key];
          sources[key] = source;
        }
        break;
      }
    }
  }
  if (env.BAI_RETRIES !== undefined) merged.BAI_RETRIES = env.BAI_RETRIES;
  return { config: loadClientConfig(merged), sources, files: { stateEnv, config: configFile } };
}

/** Client settings (see resolveClientConfig). */
export function clientConfigFrom(
  env: NodeJS.ProcessEnv,
  overrides: { endpoint?: string } = {},
): ClientConfig {
  return resolveClientConfig(env, overrides).config;
}

/** What a retry is about to do: for a note on stderr. */
export interface RetryNotice {
  method: string;
  path: string;
  /** 1 for the first retry. */
  attempt: number;
  of: number;
  delayMs: number;
  /** `HTTP 503 database-unavailable`, `ECONNREFUSED`. */
  reason: string;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'DELETE']);
/** Creates that the manager makes idempotent when they carry an Idempotency-Key. */
const KEYED_CREATES = new Set(['/session', '/session/_/create']);

/** True when repeating the request cannot do more than sending it once did. */
export function isRetrySafe(method: string, path: string, headers: Record<string, string>): boolean {
  if (IDEMPOTENT.has(method)) return true;
  // With a key, the manager answers a repeated create with the session the first one made.
  return (
    method === 'POST' &&
    KEYED_CREATES.has(path) &&
    Object.keys(headers).some((h) => h.toLowerCase() === 'idempotency-key')
  );
}
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 8_000;
const RETRY_AFTER_MAX_MS = 30_000;

/** The delay before retry `attempt` (1-based): the server's Retry-After if any, else doubling. */
export function retryDelayMs(attempt: number, retryAfter: string | null, random = Math.random): number {
  const secs = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : null;
  if (secs !== null) return Math.min(secs * 1000, RETRY_AFTER_MAX_MS);
  const base = Math.min(RETRY_BASE_MS * 2 ** (attempt - 1), RETRY_MAX_MS);
  return Math.round(base * (0.8 + 0.4 * random()));
}

/** Why a failed attempt may be retried, or null: only when the request surely did no harm twice. */
function retryReason(
  method: string,
  safe: boolean,
  res: BufferedResponse | null,
  err: unknown,
): string | null {
  if (!safe) return null;
  if (res) {
    return res.status === 503 ? 'HTTP 503' : null;
  }
  const inner = (err as { cause?: { cause?: { code?: string } } })?.cause?.cause;
  const code = inner?.code ?? '';
  // Refused: the request never reached a manager. Reset: a GET may simply be asked again.
  if (code === 'ECONNREFUSED' || (code === 'ECONNRESET' && method !== 'DELETE')) return code;
  return null;
}

/** An answer's JSON, or null for none; a body that is not JSON (a proxy's error page) as `msg`. */
function parseBody(text: string): unknown {
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    // Expected: carried as the message.
    return { msg: text };
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * A signed HTTP client of the manager's API (HMAC as Backend.AI's clients sign, or a bearer
 * token). Idempotent calls (and creates with an Idempotency-Key) are retried `config.retries`
 * times with backoff when the manager answers 503 (database unavailable, shutting down) or
 * refuses the connection.
 */
export class ApiClient {
  constructor(
    readonly config: ClientConfig,
    private readonly opts: { onRetry?: (n: RetryNotice) => void } = {},
  ) {}

  /** The headers that sign one request (also for clients that send it their own way). */
  headers(method: string, pathWithQuery: string, hasBody: boolean): Record<string, string> {
    const url = new URL(this.config.endpoint);
    const contentType = hasBody ? 'application/json' : 'text/plain';
    const date = new Date().toISOString().replace('Z', '+00:00');
    const h: Record<string, string> = {
      'Content-Type': contentType,
      'X-BackendAI-Version': this.config.apiVersion,
      'X-BackendAI-Domain': this.config.domain,
      'User-Agent': 'bai-cli/0.1',
      Date: date,
    };
    if (this.config.token) {
      h.Authorization = `Bearer ${this.config.token}`;
    } else if (this.config.accessKey && this.config.secretKey) {
      const sig = sign(this.config.secretKey, {
        method,
        pathWithQuery,
        date,
        host: url.host,
        contentType,
        apiVersion: this.config.apiVersion,
      });
      h.Authorization = authorizationHeader(this.config.accessKey, sig);
    }
    return h;
  }

  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | undefined>,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<T> {
    // Answers read whole through node:http: no fetch (and no undici) in a CLI that only asks.
    const res = await this.send(method, path, body, query, headers, signal, bufferedRequest);
    const parsed = parseBody(await res.text());
    if (!res.ok) throw new ApiError(res.status, (parsed ?? {}) as ApiError['problem']);
    return parsed as T;
  }

  /** The fetch `Response` of a request (its body a stream: server-sent events, logs). */
  raw(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | undefined>,
    headers: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<Response> {
    return this.send(method, path, body, query, headers, signal, (url, init) => fetch(url, init));
  }

  /**
   * A request whose answer's body is read as it comes (through node:http, as `request`), with
   * the same retries before the answer starts; an answer that is not 2xx throws its problem.
   */
  async stream(
    method: string,
    path: string,
    query?: Record<string, string | undefined>,
    signal?: AbortSignal,
  ): Promise<StreamedResponse> {
    const res = await this.send(method, path, undefined, query, {}, signal, streamedRequest);
    if (res.ok) return res;
    const parsed = parseBody(await res.text().catch(() => ''));
    throw new ApiError(res.status, (parsed ?? {}) as ApiError['problem']);
  }

  /** Signs and sends a request through `transport`, retrying as the class says. */
  private async send<R extends BufferedResponse>(
    method: string,
    path: string,
    body: unknown,
    query: Record<string, string | undefined> | undefined,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
    transport: (
      url: URL,
      init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal },
    ) => Promise<R>,
  ): Promise<R> {
    const qs = query
      ? new URLSearchParams(
          Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined),
        ).toString()
      : '';
    const pathWithQuery = qs ? `${path}?${qs}` : path;
    const url = new URL(pathWithQuery, this.config.endpoint);
    const retries = this.config.retries ?? 0;
    const safe = isRetrySafe(method, url.pathname, headers);
    for (let attempt = 0; ; attempt++) {
      let res: R | null = null;
      let failure: unknown = null;
      try {
        // Signed afresh on each attempt: the Date header is part of the signature.
        res = await transport(url, {
          method,
          headers: { ...this.headers(method, url.pathname + url.search, body !== undefined), ...headers },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
        });
      } catch (err) {
        failure = new NetworkError(this.config.endpoint, `${method} ${url.pathname}`, err);
      }
      const reason = attempt < retries && !signal?.aborted ? retryReason(method, safe, res, failure) : null;
      if (reason === null) {
        if (failure) throw failure;
        return res!;
      }
      const delayMs = retryDelayMs(attempt + 1, res?.headers.get('retry-after') ?? null);
      let why = reason;
      if (res) {
        // Expected: the body may be cut off with the connection; the reason is then the status alone.
        const problem = await res.text().catch(() => '');
        const code = /"type"\s*:\s*"[^"]*\/([a-z0-9-]+)"/.exec(problem)?.[1];
        if (code) why = `${reason} ${code}`;
      }
      this.opts.onRetry?.({
        method,
        path: url.pathname,
        attempt: attempt + 1,
        of: retries,
        delayMs,
        reason: why,
      });
      await sleep(delayMs, signal);
    }
  }
}

/**
 * A client of `endpoint` on the default domain, group and API version, signed with a keypair or
 * a bearer token, without retries (a test or a benchmark sees each failure as it happens).
 */
export function clientOf(
  endpoint: string,
  auth: { accessKey: string; secretKey: string } | { token: string },
): ApiClient {
  return new ApiClient({
    ...loadClientConfig({}),
    endpoint,
    accessKey: null,
    secretKey: null,
    token: null,
    ...auth,
    retries: 0,
  });
}
