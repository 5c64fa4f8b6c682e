import type Router from '@koa/router';
import { PassThrough } from 'node:stream';
import { eventInScope, parseEventScope } from '../../domain/events.js';
import { InvalidRequest } from '../../domain/errors.js';
import type { SessionEventRow } from '../../persistence/rows.js';
import type { ApiContext } from '../api-context.js';
import { clientGone, queryOf } from '../params.js';
import type { ConsoleUser } from './console-auth.js';

const SESSION_SCOPE = parseEventScope('session');

/** A status frame: what a page needs to repaint a session's status, reason and exit code. */
function frame(ev: SessionEventRow): string {
  const d = ev.data;
  const data = {
    sessionId: ev.session_id,
    status: d.status,
    result: d.result,
    exitCode: d.exitCode ?? null,
    reason: d.reason ?? '',
  };
  return `id: ${ev.id}\nevent: status\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * GET /console/events: the session_* events of the user's own keypair (the scoping of the API's
 * GET /events/session without owner_access_key), optionally of one session. `after` (or
 * Last-Event-ID on a reconnect) is the event id the page was rendered at: what happened since
 * is replayed first, so no change falls between the page and its stream.
 */
export function consoleEventRoutes(r: Router, api: ApiContext): void {
  r.get('/console/events', async (ctx) => {
    const owner = (ctx.state.console as ConsoleUser).principal.accessKey;
    const afterText = ctx.get('last-event-id') || queryOf(ctx, 'after') || '';
    const afterId = afterText === '' ? null : Number(afterText);
    if (afterId !== null && !Number.isSafeInteger(afterId))
      throw new InvalidRequest('after must be an event id.');
    const only = queryOf(ctx, 'session') || null;
    const sessionId = only === null ? null : (await api.sessions.resolve(only, owner)).id;
    const match = (ev: SessionEventRow) =>
      ev.access_key === owner &&
      (sessionId === null || ev.session_id === sessionId) &&
      eventInScope(ev.name, SESSION_SCOPE);

    const stream = new PassThrough();
    let closed = false;
    const write = (text: string) => {
      if (!closed) stream.write(text);
    };
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.set('Content-Type', 'text/event-stream');
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = stream;

    // Subscribe first and buffer, replay up to the hub's horizon, then let the buffer through.
    let replayed = false;
    const sent = new Set<number>();
    const buffered: SessionEventRow[] = [];
    const send = (ev: SessionEventRow) => {
      if (sent.has(ev.id) || !match(ev)) return;
      if (afterId !== null && ev.id <= afterId) return;
      sent.add(ev.id);
      if (sent.size > 20_000) sent.clear();
      write(frame(ev));
    };
    const unsubscribe = api.hub.subscribe((ev) => (replayed ? send(ev) : buffered.push(ev)));
    const keepAlive = setInterval(() => write(': keep-alive\n\n'), 15_000);
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(keepAlive);
      unsubscribe();
      stream.end();
    };
    const gone = clientGone(ctx);
    if (gone.aborted) return close();
    gone.addEventListener('abort', close, { once: true });
    write(': bai console events\nretry: 2000\n\n');
    if (afterId !== null) {
      try {
        const backlog = await api.events.backlog({
          accessKey: owner,
          upTo: api.hub.horizon(),
          afterId,
          sessionId,
          limit: 10_000,
        });
        for (const ev of backlog) send(ev);
      } catch (err) {
        close(); // the replay failed: the browser reconnects with Last-Event-ID
        throw err;
      }
    }
    replayed = true;
    for (const ev of buffered.splice(0)) send(ev);
  });
}
