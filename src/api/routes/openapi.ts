import Router from '@koa/router';
import { openApiDocument } from '../openapi.js';
import { BAI_VERSION } from './root.js';

/** GET /openapi.json, unauthenticated (the authenticator lets it through). */
export function openApiRoutes(): Router {
  const r = new Router();
  const doc = openApiDocument(BAI_VERSION);
  r.get('/openapi.json', (ctx) => {
    ctx.body = doc;
  });
  return r;
}
