import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientConfig } from '../config/config.js';
import { loadClientConfig, stateDirOf } from '../config/config.js';
import { BaiError } from '../domain/errors.js';
import { authorizationHeader, sign } from '../domain/signing.js';

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
  constructor(endpoint: string, cause: unknown) {
    super(
      'network-error',
      0,
      'Network error.',
      `Cannot reach the manager at ${endpoint}: ${(cause as Error)?.message ?? cause}`,
      { cause },
    );
  }
}

/** Reads `export K=V` lines of .bai/env (written by `bai up`). */
export function readEnvFile(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2]!.trim();
    if (v.startsWith("'") && v.endsWith("'")) v = v.slice(1, -1).replaceAll(`'\\''`, "'");
    else if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    out[m[1]!] = v;
  }
  return out;
}

/** Client settings: BACKEND_* from the environment, else .bai/env of `bai up`. */
export function clientConfigFrom(
  env: NodeJS.ProcessEnv,
  overrides: { endpoint?: string } = {},
): ClientConfig {
  const fileEnv = env.BACKEND_ACCESS_KEY ? {} : readEnvFile(join(stateDirOf(env), 'env'));
  const merged = {
    ...fileEnv,
    ...Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('BACKEND_') || k === 'BAI_TOKEN')),
  };
  const cfg = loadClientConfig(merged);
  return overrides.endpoint ? { ...cfg, endpoint: overrides.endpoint } : cfg;
}

/** A signed HTTP client of the manager's API (HMAC as Backend.AI's clients sign, or a bearer token). */
export class ApiClient {
  constructor(readonly config: ClientConfig) {}

  private headers(method: string, pathWithQuery: string, hasBody: boolean): Record<string, string> {
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
  ): Promise<T> {
    const res = await this.raw(method, path, body, query);
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { msg: text };
    }
    if (!res.ok) throw new ApiError(res.status, (parsed ?? {}) as ApiError['problem']);
    return parsed as T;
  }

  async raw(
    method: string,
    path: string,
    body?: unknown,
    query?: Record<string, string | undefined>,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    const qs = query
      ? new URLSearchParams(
          Object.entries(query).filter((e): e is [string, string] => e[1] !== undefined),
        ).toString()
      : '';
    const pathWithQuery = qs ? `${path}?${qs}` : path;
    const url = new URL(pathWithQuery, this.config.endpoint);
    try {
      return await fetch(url, {
        method,
        headers: { ...this.headers(method, url.pathname + url.search, body !== undefined), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new NetworkError(this.config.endpoint, err);
    }
  }
}
