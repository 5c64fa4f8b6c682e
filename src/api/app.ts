import type Router from '@koa/router';
import Koa from 'koa';
import { apiContextOf, type ApiContext, type ApiDeps } from './api-context.js';
import { Authenticator } from './auth.js';
import { bodyMiddleware, urlGuardMiddleware } from './body.js';
import { consoleMiddleware } from './console/console.js';
import { problemMiddleware } from './problem.js';
import { rateLimitMiddleware } from './rate-limit.js';
import { requestContextMiddleware } from './request-context.js';
import { eventRoutes } from './routes/events.js';
import { folderRoutes } from './routes/folders.js';
import { infrastructureRoutes } from './routes/infrastructure.js';
import { keypairRoutes } from './routes/keypairs.js';
import { metricsRoutes } from './routes/metrics.js';
import { openApiRoutes } from './routes/openapi.js';
import { rootRoutes } from './routes/root.js';
import { scheduleRoutes } from './routes/schedules.js';
import { sessionRoutes } from './routes/sessions.js';
import { templateRoutes } from './routes/templates.js';
import { ObjectNotFound } from '../domain/errors.js';

/** The manager's HTTP API. Tests call `createApp(ctx).callback()` without listening. */
export function createApp(deps: ApiDeps): Koa {
  const api = apiContextOf(deps);
  const app = new Koa();
  app.proxy = false;
  app.silent = true;
  const auth = new Authenticator(api.keypairs);
  app.use(requestContextMiddleware(api.log, api.metrics));
  app.use(problemMiddleware(api.log));
  app.use(urlGuardMiddleware());
  app.use(auth.middleware());
  app.use(rateLimitMiddleware(api.rateLimitPerMinute));
  app.use(bodyMiddleware(api.bodyLimitBytes));
  // An admin's change to a keypair, policy, scaling group or domain, made through any manager:
  // the authenticator and the submit path's cache drop it here.
  api.hub.onKeypairChanged((ak) => {
    auth.forget(ak);
    api.submitCatalog.forget('keypair', ak);
  });
  api.hub.onCatalogChanged((kind, name) => api.submitCatalog.forget(kind, name));
  app.use(consoleMiddleware(api, auth));
  for (const router of apiRouters(api, (ak) => api.hub.keypairChanged(ak))) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  app.use((ctx) => {
    throw new ObjectNotFound(`No route for ${ctx.method} ${ctx.path}.`, 'route');
  });
  return app;
}

/** Every router of the API (the OpenAPI coverage test walks them). */
export function apiRouters(api: ApiContext, forgetKeypair: (accessKey: string) => void): Router[] {
  return [
    rootRoutes(api),
    metricsRoutes(api),
    openApiRoutes(),
    sessionRoutes(api),
    eventRoutes(api),
    folderRoutes(api),
    templateRoutes(api),
    scheduleRoutes(api),
    keypairRoutes(api.keypairs, forgetKeypair, (name) => api.hub.catalogChanged('resource policy', name)),
    infrastructureRoutes(api.infra, (kind, name) => api.hub.catalogChanged(kind, name)),
  ];
}
