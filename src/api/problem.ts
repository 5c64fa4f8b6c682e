import type { Context, Next } from 'koa';
import { BaiError, DatabaseUnavailable, InternalError } from '../domain/errors.js';
import { isDatabaseUnavailable } from '../persistence/db.js';

export const PROBLEM_BASE = 'https://api.backend.ai/probs/';

/** Turns any thrown error into application/problem+json; a 500 never leaks internals. */
export function problemMiddleware(baseLog: { error(msg: string, extra?: Record<string, unknown>): void }) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      const log = (ctx.state.log as typeof baseLog | undefined) ?? baseLog;
      const e = err instanceof BaiError ? err : fromKoaError(err);
      if (e instanceof DatabaseUnavailable)
        log.error('request failed: database unavailable', {
          method: ctx.method,
          path: ctx.path,
          err: String((err as Error)?.message ?? err),
        });
      else if (e.status >= 500)
        log.error('request failed', {
          method: ctx.method,
          path: ctx.path,
          err: String((err as Error)?.stack ?? err),
        });
      ctx.status = e.status;
      // The unread rest of a too-large body is not waited for: the connection ends with the answer.
      if (e.status === 413) ctx.set('Connection', 'close');
      // Unavailable for now (database down, shutting down): say when to try again.
      if (e.status === 503) ctx.set('Retry-After', String(DatabaseUnavailable.RETRY_AFTER_SECONDS));
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
  // PostgreSQL down or refusing connections: the service is unavailable, not broken.
  if (isDatabaseUnavailable(err)) return new DatabaseUnavailable({ cause: err });
  // A PostgreSQL data exception (class 22: bad text, value too long, out of range) is bad input
  // that slipped past validation: the client's fault, and the transaction was rolled back.
  const pgCode = (err as { code?: unknown }).code;
  if (typeof pgCode === 'string' && /^22[0-9A-Z]{3}$/.test(pgCode)) {
    return new BaiError(
      'generic-bad-request',
      400,
      'Invalid or Missing API Parameters.',
      'A value is out of range.',
    );
  }
  const status = (err as { status?: number; expose?: boolean }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new BaiError('generic-bad-request', status, 'Bad request.', (err as Error).message);
  }
  return new InternalError(undefined, { cause: err });
}
