import type { AgentConfig } from '../../config/config.js';
import { DockerAdapter } from '../../docker/docker-adapter.js';
import { openRedis } from '../../queue/redis.js';
import { Agent } from './agent.js';
import type { Logger } from '../../log/logger.js';

export interface RunningAgent {
  agent: Agent;
  close(): Promise<void>;
}

/** The agent's composition root: Docker engine, Redis, and the Agent itself. */
export async function startAgent(config: AgentConfig, log: Logger): Promise<RunningAgent> {
  const docker = new DockerAdapter(config.dockerHost);
  const redis = openRedis(config.redisUrl, { caFile: config.redisCaFile });
  redis.on('error', (err) => log.error('redis error', { err: String(err) }));
  const agent = new Agent(config, docker, redis, log);
  try {
    await agent.start();
  } catch (err) {
    await agent
      .close()
      .catch((closeErr: unknown) =>
        log.error('closing an agent that failed to start', { err: String(closeErr) }),
      );
    redis.disconnect();
    throw err;
  }
  let closing: Promise<void> | null = null;
  return {
    agent,
    close() {
      closing ??= (async () => {
        await agent.close();
        // QUIT refused (the connection is already down): drop it instead.
        await redis.quit().catch(() => redis.disconnect());
      })();
      return closing;
    },
  };
}
