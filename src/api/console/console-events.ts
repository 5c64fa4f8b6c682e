import type Router from '@koa/router';
import { eventInScope, parseEventScope } from '../../domain/events.js';
import { InvalidRequest } from '../../domain/errors.js';
import type { SessionEventRow } from '../../persistence/rows.js';
import type { ApiContext } from '../api-context.js';
import { streamEvents } from '../event-stream.js';
import { queryOf } from '../params.js';
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

    await streamEvents(ctx, api, {
      owner,
      sessionId,
      // After a reconnect, nothing the page already had (the console keeps a high-water mark).
      match: (ev) => match(ev) && (afterId === null || ev.id > afterId),
      afterId,
      replayWithoutId: false,
      frame,
      greeting: ': bai console events\nretry: 2000\n\n',
    });
  });
}
