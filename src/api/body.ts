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
      if (depthOf(ctx.state.body) > MAX_DEPTH)
        throw new InvalidRequest(`The JSON body nests deeper than ${MAX_DEPTH} levels.`);
    } else {
      ctx.state.body = {};
    }
    return next();
  };
}

function depthOf(v: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[v, 1]];
  while (stack.length > 0) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    if (d > max) max = d;
    if (max > MAX_DEPTH) return max;
    for (const y of Object.values(x as object)) stack.push([y, d + 1]);
  }
  return max;
}
