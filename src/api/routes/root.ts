import Router from '@koa/router';
import { SERVER_API_VERSION } from '../../domain/api-version.js';
import { InvalidRequest } from '../../domain/errors.js';
import type { ApiContext } from '../api-context.js';
import type { Principal } from '../auth.js';

export const BAI_VERSION = '0.1.0';

/** `GET /` for version negotiation, `GET /health`, and image look-up for clients (`bai run` needs the interpreter). */
export function rootRoutes(api: ApiContext): Router {
  const r = new Router();
  r.get('/', (ctx) => {
    ctx.body = { version: SERVER_API_VERSION, manager: BAI_VERSION };
  });
  // Unauthenticated, for load balancers and probes: the kind of a failure, never its message.
  r.get('/health', (ctx) => {
    const eventTail = api.hub.tailState();
    ctx.status = eventTail.ok ? 200 : 503;
    ctx.body = { ok: eventTail.ok, eventTail };
  });
  r.get('/images/resolve', async (ctx) => {
    const p = ctx.state.principal as Principal;
    const ref = ctx.query.ref;
    if (typeof ref !== 'string' || ref === '') throw new InvalidRequest('ref is required.');
    const img = await api.catalog.resolveImage(ref, p.domain);
    ctx.body = { name: img.canonical, registry: img.registry, labels: img.labels };
  });
  return r;
}
