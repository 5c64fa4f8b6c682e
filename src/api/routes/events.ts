import Router from '@koa/router';
import { eventInScope, parseEventScope } from '../../domain/events.js';
import { InvalidRequest } from '../../domain/errors.js';
import type { SessionEventRow } from '../../persistence/rows.js';
import type { ApiContext } from '../api-context.js';
import type { Principal } from '../auth.js';
import { streamEvents } from '../event-stream.js';
import { queryOf } from '../params.js';

const q = queryOf;

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

    await streamEvents(ctx, api, {
      owner,
      sessionId,
      match,
      afterId: lastId,
      replayWithoutId: sessionId !== null,
      greeting: ': bai event stream\n\n',
    });
  });
  return r;
}
