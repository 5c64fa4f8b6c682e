import Router from '@koa/router';
import { AuthFailed, ObjectNotFound } from '../../domain/errors.js';
import { bearerMatches } from '../../metrics/bearer.js';
import type { ApiContext } from '../api-context.js';

/**
 * `GET /metrics`: Prometheus text format (docs/metrics.md). Not signed, as Prometheus scrapes;
 * when BAI_METRICS_TOKEN is set it wants `Authorization: Bearer <that token>`.
 */
export function metricsRoutes(api: ApiContext): Router {
  const r = new Router();
  r.get('/metrics', async (ctx) => {
    if (!api.metrics) throw new ObjectNotFound('Metrics are not enabled in this manager.', 'route');
    if (api.metricsToken && !bearerMatches(ctx.get('authorization'), api.metricsToken))
      throw new AuthFailed('GET /metrics wants the metrics bearer token (BAI_METRICS_TOKEN).');
    const text = await api.metrics.render();
    ctx.set('Cache-Control', 'no-store');
    ctx.type = api.metrics.contentType;
    ctx.body = text;
  });
  return r;
}
