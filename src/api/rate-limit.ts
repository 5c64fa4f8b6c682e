import type { Context, Next } from 'koa';
import { RateLimited } from '../domain/errors.js';
import type { Principal } from './auth.js';

/**
 * Per-keypair request limit over a fixed one-minute window, per manager process: the keypair's
 * own `rate_limit`, else the manager's default. Every authenticated answer carries the
 * X-RateLimit-* headers.
 */
export function rateLimitMiddleware(defaultPerMinute: number) {
  const windowMs = 60_000;
  const windows = new Map<string, { start: number; count: number }>();
  return async (ctx: Context, next: Next): Promise<void> => {
    const p = ctx.state.principal as Principal | undefined;
    if (!p) return next();
    const limitPerMinute = p.rateLimit ?? defaultPerMinute;
    const now = Date.now();
    let w = windows.get(p.accessKey);
    if (windows.size > 100_000) {
      for (const [k, x] of windows) if (now - x.start >= windowMs) windows.delete(k);
    }
    if (!w || now - w.start >= windowMs) {
      w = { start: now, count: 0 };
      windows.set(p.accessKey, w);
    }
    w.count += 1;
    ctx.set('X-RateLimit-Limit', String(limitPerMinute));
    ctx.set('X-RateLimit-Remaining', String(Math.max(0, limitPerMinute - w.count)));
    ctx.set('X-RateLimit-Window', String(windowMs / 1000));
    if (w.count > limitPerMinute)
      throw new RateLimited(`More than ${limitPerMinute} requests a minute for this keypair.`);
    return next();
  };
}
