import type { AgentConfig } from '../../config/config.js';
import { DockerAdapter } from '../../docker/docker-adapter.js';
import { openRedis } from '../../queue/redis.js';
import { AgentMetrics } from '../../metrics/agent-metrics.js';
import { Agent } from './agent.js';
import { fullCollection, IdleTrim } from './idle-trim.js';
import { withLoopbackHosts } from './loopback-hosts.js';
import { startMetricsServer, type MetricsServer } from './metrics-server.js';
import { withContext, type Logger } from '../../log/logger.js';

/** How often the agent checks whether it went idle after sessions (idle-trim.ts). */
const TRIM_CHECK_MS = 5_000;

export interface RunningAgent {
  agent: Agent;
  /** The agent's `GET /metrics` (null: BAI_AGENT_METRICS_PORT unset). */
  metricsUrl: string | null;
  /** Full collections made since the agent went idle after sessions (idle-trim.ts). */
  readonly idleCollections: number;
  close(): Promise<void>;
}

/** The agent's composition root: Docker engine, Redis, metrics, and the Agent itself. */
export async function startAgent(given: AgentConfig, baseLog: Logger): Promise<RunningAgent> {
  const log = withContext(baseLog, { agentId: given.id });
  const config = await withLoopbackHosts(given, log);
  const docker = new DockerAdapter(config.dockerHost);
  const redis = openRedis(config.redisUrl, { caFile: config.redisCaFile });
  redis.on('error', (err) => log.error('redis error', { err: String(err) }));
  const metrics = new AgentMetrics(config.id, () => agent.runningContainers());
  const agent: Agent = new Agent(config, docker, redis, log, metrics);
  let server: MetricsServer | null = null;
  try {
    await agent.start();
    if (config.metricsPort !== null)
      server = await startMetricsServer(
        metrics,
        { host: config.metricsHost, port: config.metricsPort, token: config.metricsToken },
        log,
      );
  } catch (err) {
    await agent
      .close()
      .catch((closeErr: unknown) =>
        log.error('closing an agent that failed to start', { err: String(closeErr) }),
      );
    redis.disconnect();
    docker.close();
    throw err;
  }
  // Once idle after sessions, one full collection (idle-trim.ts), checked every 5 s.
  const trim = new IdleTrim(
    () => agent.activity(),
    () => {
      try {
        const heap = fullCollection();
        const mb = (n: number) => Math.round(n / 104_857.6) / 10;
        log.info('idle: garbage collected', {
          heapUsedMb: mb(heap.after),
          freedMb: mb(heap.before - heap.after),
        });
      } catch (err) {
        log.error('idle collection failed', { err: String(err) });
      }
    },
  );
  const trimTimer = setInterval(() => trim.check(), TRIM_CHECK_MS).unref();
  let closing: Promise<void> | null = null;
  return {
    agent,
    metricsUrl: server?.url ?? null,
    get idleCollections() {
      return trim.collections;
    },
    close() {
      closing ??= (async () => {
        clearInterval(trimTimer);
        await server?.close();
        await agent.close();
        docker.close();
        // QUIT refused (the connection is already down): drop it instead.
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}
