import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import { withContext, type Logger } from '../log/logger.js';
import type { ManagerMetrics } from '../metrics/manager-metrics.js';
import type { RequestScope } from '../log/request-scope.js';

/** An incoming X-Request-Id is kept when it is this tame; otherwise a new one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id of `X-Request-Id`, when it is one we keep (null: make one). */
export function acceptedRequestId(header: string | undefined): string | null {
  return header && REQUEST_ID.test(header) ? header : null;
}

/**
 * The outermost middleware: the request id (an incoming `X-Request-Id` if it is tame, else a new
 * UUID), returned as `X-Request-Id`; `ctx.state.log`, a child logger carrying it; one access
 * line per request; and the request duration by route template (the matched @koa/router path,
 * never the raw URL, so ids do not make new series), method and final status.
 */
export function requestContextMiddleware(log: Logger, metrics: ManagerMetrics | undefined) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const started = process.hrtime.bigint();
    const requestId = acceptedRequestId(ctx.get('x-request-id')) ?? randomUUID();
    ctx.state.requestId = requestId;
    const reqLog = withContext(log, { requestId });
    ctx.state.log = reqLog;
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (ctx as Context & { _matchedRoute?: string })._matchedRoute ?? 'unmatched';
      metrics?.observeHttp(String(route), ctx.method, ctx.status, seconds);
      (ctx.state.log as Logger).info('request', {
        method: ctx.method,
        route: String(route),
        status: ctx.status,
        ms: Math.round(seconds * 1000),
      });
    }
  };
}

/** The request `ctx` serves, for the services that record its id or log under it. */
export function requestScopeOf(ctx: Context): RequestScope | undefined {
  const { requestId, log } = ctx.state as { requestId?: string; log?: Logger };
  return requestId && log ? { requestId, log } : undefined;
}

/** The request's logger (the process logger outside a request). */
export function requestLog(ctx: Context, fallback: Logger): Logger {
  return (ctx.state.log as Logger | undefined) ?? fallback;
}
