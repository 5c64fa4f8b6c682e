import { problem, type Op } from './common.js';

/** `GET /metrics` (docs/metrics.md). */
export const METRICS_OPS: Op[] = [
  {
    method: 'get',
    path: '/metrics',
    tag: 'meta',
    summary: 'Prometheus metrics of this manager (text exposition format 0.0.4)',
    description:
      'Not signed, as Prometheus scrapes. When the manager runs with BAI_METRICS_TOKEN, send `Authorization: Bearer <that token>` (401 otherwise). Each metric, its labels and sample alert rules: docs/metrics.md. Agents serve their own on BAI_AGENT_METRICS_PORT.',
    response: {
      description: 'The metrics',
      content: { 'text/plain; version=0.0.4; charset=utf-8': { schema: { type: 'string' } } },
    },
    responses: { '401': problem('auth-failed: the metrics bearer token is missing or wrong') },
    public: true,
  },
];
