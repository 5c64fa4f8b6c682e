import Koa from 'koa';
import type { ApiContext } from './api-context.js';
import { Authenticator } from './auth.js';
import { bodyMiddleware } from './body.js';
import { problemMiddleware } from './problem.js';
import { rateLimitMiddleware } from './rate-limit.js';
import { eventRoutes } from './routes/events.js';
import { rootRoutes } from './routes/root.js';
import { sessionRoutes } from './routes/sessions.js';
import { ObjectNotFound } from '../domain/errors.js';

/** The manager's HTTP API. Tests call `createApp(ctx).callback()` without listening. */
export function createApp(api: ApiContext): Koa {
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  const auth = new Authenticator(api.db);
  app.use(problemMiddleware(api.log));
  app.use(auth.middleware());
  app.use(rateLimitMiddleware(api.rateLimitPerMinute));
  app.use(bodyMiddleware(api.bodyLimitBytes));
  for (const router of [rootRoutes(api), sessionRoutes(api), eventRoutes(api)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  app.use((ctx) => {
    throw new ObjectNotFound(`No route for ${ctx.method} ${ctx.path}.`, 'route');
  });
  return app;
}
