import type { Context } from 'koa';
import { PassThrough } from 'node:stream';

/**
 * Starts a long streamed answer on `ctx` (SSE, the logs' follow stream): no socket timeout, no
 * Nagle delay, neither cached nor buffered by a proxy. The returned stream is the body.
 */
export function openStreamResponse(ctx: Context, contentType: string): PassThrough {
  const body = new PassThrough();
  ctx.req.socket.setTimeout(0);
  ctx.req.socket.setNoDelay(true);
  ctx.status = 200;
  ctx.set('Content-Type', contentType);
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('X-Accel-Buffering', 'no');
  ctx.body = body;
  return body;
}
