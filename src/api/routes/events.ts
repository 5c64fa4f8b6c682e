import Router from '@koa/router';
import { PassThrough } from 'node:stream';
import { eventInScope, parseEventScope } from '../../domain/events.js';
import { InvalidRequest } from '../../domain/errors.js';
import type { SessionEventRow } from '../../persistence/rows.js';
import type { ApiContext } from '../api-context.js';
import type { Principal } from '../auth.js';
import { clientGone, queryOf } from '../params.js';

const q = queryOf;

function frame(ev: SessionEventRow): string {
  return `id: ${ev.id}\nevent: ${ev.name}\ndata: ${JSON.stringify(ev.data)}\n\n`;
}

/**
 * `GET /events/session`: Server-Sent Events, one per transition. Unlike Backend.AI, the
 * exit code is filled in and `sessionId` filters. A stream for one session first replays that
 * session's past events; `Last-Event-ID` resumes after the last event a client saw.
 */
export function eventRoutes(api: ApiContext): Router {
  const r = new Router();
  r.get('/events/session', async (ctx) => {
    const p = ctx.state.principal as Principal;
    const scope = parseEventScope(q(ctx, 'scope'));
    const owner = await api.service.ownerOf(p, q(ctx, 'ownerAccessKey') ?? q(ctx, 'owner_access_key'));
    const name = q(ctx, 'sessionName') ?? q(ctx, 'session_name');
    const idParam = q(ctx, 'sessionId') ?? q(ctx, 'session_id');
    let sessionId: string | null = null;
    if (idParam) sessionId = (await api.sessions.resolve(idParam, owner)).id;
    else if (name && name !== '*') sessionId = (await api.sessions.resolve(name, owner)).id;
    const lastHeader = ctx.get('last-event-id') || q(ctx, 'lastEventId');
    const lastId = lastHeader ? Number(lastHeader) : null;
    if (lastHeader && !Number.isInteger(lastId))
      throw new InvalidRequest('Last-Event-ID must be an event id.');

    const match = (ev: SessionEventRow) =>
      ev.access_key === owner &&
      (sessionId === null || ev.session_id === sessionId) &&
      eventInScope(ev.name, scope);

    const stream = new PassThrough();
    let closed = false;
    // Nothing is written once the stream is closed (a write after end would throw).
    const write = (text: string) => {
      if (!closed) stream.write(text);
    };
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.set('Content-Type', 'text/event-stream');
    ctx.set('Cache-Control', 'no-cache');
    ctx.set('Connection', 'keep-alive');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = stream;

    // Subscribe first, buffer, then replay the backlog up to the hub's horizon: nothing falls
    // between the two.
    // Ids sent on this stream, not a high-water mark: an event that committed late reaches the
    // hub after higher ids and must still go out.
    let replayed = false;
    const sent = new Set<number>();
    const buffered: SessionEventRow[] = [];
    const send = (ev: SessionEventRow) => {
      if (sent.has(ev.id) || !match(ev)) return;
      sent.add(ev.id);
      if (sent.size > 20_000) {
        for (const id of sent) {
          sent.delete(id);
          if (sent.size <= 10_000) break;
        }
      }
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
    // The client may have gone while the lookups above ran: clientGone aborts at once then, so
    // the subscription and the keep-alive timer do not live forever, and nothing more is written.
    const gone = clientGone(ctx);
    if (gone.aborted) {
      close();
      return;
    }
    gone.addEventListener('abort', close, { once: true });
    write(': bai event stream\n\n');
    if (lastId !== null || sessionId !== null) {
      try {
        const backlog = await api.events.backlog({
          accessKey: owner,
          upTo: api.hub.horizon(),
          afterId: lastId,
          sessionId,
          limit: 10_000,
        });
        for (const ev of backlog) send(ev);
      } catch (err) {
        close(); // the replay failed: end the stream (the client reconnects with Last-Event-ID)
        throw err;
      }
    }
    replayed = true;
    for (const ev of buffered.splice(0)) send(ev);
  });
  return r;
}
