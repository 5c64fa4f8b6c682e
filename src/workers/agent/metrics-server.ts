import { createServer, type Server } from 'node:http';
import type { Logger } from '../../log/logger.js';
import { bearerMatches } from '../../metrics/bearer.js';
import type { AgentMetrics } from '../../metrics/agent-metrics.js';

export interface MetricsServer {
  /** `http://host:port/metrics`. */
  url: string;
  close(): Promise<void>;
}

/**
 * The agent's `GET /metrics` on a port of its own (BAI_AGENT_METRICS_PORT): Prometheus text,
 * behind `Authorization: Bearer <BAI_METRICS_TOKEN>` when that is set. Nothing else is served.
 */
export async function startMetricsServer(
  metrics: AgentMetrics,
  opts: { host: string; port: number; token: string | null },
  log: Logger,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    if (opts.token && !bearerMatches(req.headers.authorization, opts.token)) {
      res
        .writeHead(401, { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Bearer' })
        .end('unauthorized\n');
      return;
    }
    metrics.render().then(
      (text) =>
        res.writeHead(200, { 'Content-Type': metrics.contentType, 'Cache-Control': 'no-store' }).end(text),
      (err: unknown) => {
        log.error('metrics scrape failed', { err: String(err) });
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('metrics failed\n');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  log.info('agent metrics listening', { url: `http://${opts.host}:${port}/metrics` });
  return {
    url: `http://${opts.host}:${port}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
