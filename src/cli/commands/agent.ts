import { Command } from 'clipanion';
import { loadAgentConfig, loadLogConfig } from '../../config/config.js';
import { startAgent } from '../../workers/agent/agent-process.js';
import { BaseCommand } from '../base-command.js';
import { jsonLogger } from '../../log/logger.js';
import { startOrExit } from '../process-start.js';
import { untilSignal } from '../signals.js';

export class AgentCommand extends BaseCommand {
  static override paths = [['agent']];
  static override usage = Command.Usage({
    category: 'Processes',
    description: 'Run an agent on this Docker host',
    details: `Configuration from the environment: BAI_AGENT_ID, BAI_SCALING_GROUP, REDIS_URL (with the agent's own user from 'bai admin agent-user create'; rediss:// and redis+sentinel:// too), BAI_REDIS_CA_FILE, DOCKER_HOST, BAI_AGENT_CPU, BAI_AGENT_MEM (bytes), BAI_STORAGE_ROOT, BAI_AGENT_NETWORK_MODE, BAI_AGENT_METRICS_PORT (serve GET /metrics there; unset: off), BAI_AGENT_METRICS_HOST (default 127.0.0.1), BAI_METRICS_TOKEN, BAI_LOG_LEVEL, BAI_LOG_FORMAT (docs/logging.md). SIGTERM stops taking jobs and leaves running containers for re-adoption; SIGUSR2 switches to drain mode.`,
    examples: [['Join the default group', 'BAI_AGENT_ID=host1 REDIS_URL=redis://10.0.0.5:6379 $0 agent']],
  });

  async run(): Promise<number> {
    // Log lines on stdout (JSON, or readable at a terminal), beside the ready line.
    const log = jsonLogger(this.context.stdout, 'agent', loadLogConfig(this.context.env));
    const running = await startOrExit(log, 'agent', () => startAgent(loadAgentConfig(this.context.env), log));
    process.on('SIGUSR2', () => {
      running.agent
        .drain()
        .catch((err: unknown) => log.error('drain failed', { err: String((err as Error)?.stack ?? err) }));
      log.info('drain mode: finishing running work, taking no more');
    });
    this.context.stdout.write(`${JSON.stringify({ ready: true })}\n`);
    await untilSignal(log);
    await running.close();
    return 0;
  }
}
