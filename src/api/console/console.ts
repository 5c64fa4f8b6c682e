import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { BaiError, ObjectNotFound } from '../../domain/errors.js';
import type { ApiContext } from '../api-context.js';
import type { Authenticator } from '../auth.js';
import { agentRoutes } from './agents-page.js';
import { CONSOLE_CSS, CONSOLE_JS } from './assets.js';
import { ConsoleSessions, requireUser, type ConsoleUser } from './console-auth.js';
import { consoleEventRoutes } from './console-events.js';
import { errorPage, secureHeaders } from './layout.js';
import { loginRoutes } from './login.js';
import { scheduleRoutes } from './schedules-page.js';
import { sessionPageRoutes } from './session-page.js';
import { sessionListRoutes } from './sessions-page.js';

/** A router's middleware, called by hand with what runs when no route matched. */
type Dispatch = (ctx: Context, next: () => Promise<unknown>) => Promise<unknown>;

function isConsolePath(path: string): boolean {
  return path === '/console' || path.startsWith('/console/');
}

/**
 * The web console under /console: server-rendered pages over the API's own stores and rules
 * (docs/console.md). One middleware: console paths never reach the API's routers, and every
 * error is an HTML page rather than problem+json.
 */
export function consoleMiddleware(api: ApiContext, auth: Authenticator) {
  const sessions = new ConsoleSessions(api.redis, api.prefix, auth);

  const open = new Router();
  open.get('/console', (ctx) => ctx.redirect('/console/sessions'));
  open.get('/console/static/console.css', (ctx) => {
    ctx.type = 'text/css; charset=utf-8';
    ctx.body = CONSOLE_CSS;
  });
  open.get('/console/static/console.js', (ctx) => {
    ctx.type = 'text/javascript; charset=utf-8';
    ctx.body = CONSOLE_JS;
  });
  loginRoutes(open, sessions);

  const closed = new Router();
  sessionListRoutes(closed, api);
  sessionPageRoutes(closed, api);
  consoleEventRoutes(closed, api);
  agentRoutes(closed, api);
  scheduleRoutes(closed, api);
  const closedRoutes = closed.routes() as unknown as Dispatch;
  const user = requireUser(sessions);
  const notFound = async (ctx: Context) => {
    throw new ObjectNotFound(`No console page ${ctx.path}.`, 'page');
  };
  const openRoutes = open.routes() as unknown as Dispatch;

  return async (ctx: Context, next: Next): Promise<void> => {
    if (!isConsolePath(ctx.path)) return next();
    secureHeaders(ctx);
    try {
      await openRoutes(ctx, () => user(ctx, () => closedRoutes(ctx, () => notFound(ctx))));
    } catch (err) {
      const e = err instanceof BaiError ? err : null;
      if (!e || e.status >= 500)
        api.log.error('console request failed', {
          method: ctx.method,
          path: ctx.path,
          err: String((err as Error)?.stack ?? err),
        });
      const status = e?.status ?? 500;
      const title = status === 404 ? 'Not found' : status === 403 ? 'Forbidden' : (e?.title ?? 'Error');
      errorPage(
        ctx,
        status,
        title,
        e?.message ?? 'The console failed; the manager log says why.',
        ctx.state.console as ConsoleUser | undefined,
      );
    }
  };
}
