import type { Context, Next } from 'koa';
import { InvalidRequest, PayloadTooLarge } from '../domain/errors.js';

const MAX_DEPTH = 32;

/**
 * Reads the request body with a size limit and parses JSON. Anything that is not a JSON
 * object or array where JSON is sent is a 400 saying so; nothing half-parsed goes further.
 */
export function bodyMiddleware(limitBytes: number) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.method === 'GET' || ctx.method === 'HEAD') return next();
    const declared = Number(ctx.get('content-length') || '0');
    if (declared > limitBytes) throw new PayloadTooLarge(limitBytes);
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of ctx.req) {
      size += (chunk as Buffer).length;
      if (size > limitBytes) throw new PayloadTooLarge(limitBytes);
      chunks.push(chunk as Buffer);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    ctx.state.rawBody = text;
    if (text.trim() === '') {
      ctx.state.body = {};
    } else if (/json/i.test(ctx.get('content-type')) || /^\s*[{[]/.test(text)) {
      try {
        ctx.state.body = JSON.parse(text) as unknown;
      } catch (err) {
        throw new InvalidRequest(`The body is not valid JSON: ${(err as Error).message}`);
      }
      const shape = inspect(ctx.state.body);
      if (shape.depth > MAX_DEPTH)
        throw new InvalidRequest(`The JSON body nests deeper than ${MAX_DEPTH} levels.`);
      if (shape.nul) throw new InvalidRequest('Strings in the body must not contain NUL characters.');
    } else {
      ctx.state.body = {};
    }
    return next();
  };
}

/** Nesting depth, and whether a string or key holds a NUL (PostgreSQL text cannot). */
function inspect(v: unknown): { depth: number; nul: boolean } {
  let max = 0;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (typeof x === 'string') {
      if (x.includes('\u0000')) return { depth: max, nul: true };
      continue;
    }
    if (x === null || typeof x !== 'object') continue;
    if (d > max) max = d;
    if (max > MAX_DEPTH) return { depth: max, nul: false };
    for (const [k, y] of Object.entries(x as object)) {
      if (k.includes('\u0000')) return { depth: max, nul: true };
      stack.push([y, d + 1]);
    }
  }
  return { depth: max, nul: false };
}

/**
 * Refuses a path or query string that decodes to control characters (NUL cannot reach
 * PostgreSQL) or that is not valid percent-encoding, before any route reads it.
 */
export function urlGuardMiddleware() {
  return async (ctx: Context, next: Next): Promise<void> => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(ctx.url.replaceAll('+', ' '));
    } catch {
      // URIError, the one failure of decodeURIComponent: the client's bad encoding.
      throw new InvalidRequest('The URL is not valid percent-encoding.');
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(decoded))
      throw new InvalidRequest('The URL must not contain control characters.');
    if (ctx.url.length > 8192) throw new InvalidRequest('The URL is longer than 8192 characters.');
    return next();
  };
}
