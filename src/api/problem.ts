import type { Context, Next } from 'koa';
import { BaiError, InternalError } from '../domain/errors.js';

export const PROBLEM_BASE = 'https://api.backend.ai/probs/';

/** Turns any thrown error into application/problem+json; a 500 never leaks internals. */
export function problemMiddleware(log: { error(msg: string, extra?: Record<string, unknown>): void }) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      const e = err instanceof BaiError ? err : fromKoaError(err);
      if (e.status >= 500)
        log.error('request failed', {
          method: ctx.method,
          path: ctx.path,
          err: String((err as Error)?.stack ?? err),
        });
      ctx.status = e.status;
      ctx.type = 'application/problem+json';
      ctx.body = {
        type: `${PROBLEM_BASE}${e.code}`,
        title: e.title,
        msg: e.message,
        ...(e.data !== undefined ? { data: e.data } : {}),
      };
    }
  };
}

function fromKoaError(err: unknown): BaiError {
  const status = (err as { status?: number; expose?: boolean }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new BaiError('generic-bad-request', status, 'Bad request.', (err as Error).message);
  }
  return new InternalError(undefined, { cause: err });
}
