import { join } from 'node:path';
import { agentAnswers } from '../../src/cli/stack-records.js';
import { DockerAdapter } from '../../src/docker/docker-adapter.js';
import { ensurePythonImage } from '../../src/stack/python-image.js';
import { startDockerd, type Service } from '../../src/stack/services.js';
import { waitUntil } from '../../src/stack/process-util.js';
import { AGENT_CPU, AGENT_MEM, spawnBai, type BenchStack, type Child } from './stack.js';

/** One more agent, on a Docker engine of its own, registered with the bench stack's manager. */
export interface ExtraAgent {
  agentId: string;
  agent: Child;
  docker: Service;
  dockerApi: DockerAdapter;
  stop(): Promise<void>;
}

/**
 * Starts engine `n` (its own socket, data-root, exec-root, pidfile and address pool under the
 * stack's folder, the python image loaded offline as the test stack does) and an agent on it,
 * with the bench agent's capacity; resolves once the manager sees the agent.
 */
export async function startExtraAgent(
  stack: BenchStack,
  n: number,
  log: (m: string) => void,
): Promise<ExtraAgent> {
  const docker = await startDockerd(join(stack.base, `d${n}`), { poolOctet: 150 + n });
  try {
    ensurePythonImage(docker.url, log);
    const agentId = `bench-a${n}`;
    const { child } = await spawnBai(
      `agent${n}`,
      ['agent'],
      {
        REDIS_URL: stack.redis.url,
        BAI_QUEUE_PREFIX: stack.prefix,
        DOCKER_HOST: docker.url,
        BAI_AGENT_ID: agentId,
        BAI_AGENT_NETWORK_MODE: 'none',
        BAI_AGENT_CPU: String(AGENT_CPU),
        BAI_AGENT_MEM: String(AGENT_MEM),
        BAI_STATE_DIR: join(stack.base, `state-a${n}`),
      },
      join(stack.base, 'logs'),
    );
    const auth = { accessKey: stack.accessKey, secretKey: stack.secretKey };
    await waitUntil(
      `agent ${agentId} to register`,
      () => agentAnswers(stack.managerUrl, auth, agentId),
      60_000,
    );
    return {
      agentId,
      agent: child,
      docker,
      dockerApi: new DockerAdapter(docker.url),
      async stop() {
        await child.stop();
        await docker.stop();
      },
    };
  } catch (err) {
    await docker.stop();
    throw err;
  }
}
