import { Command, Option } from 'clipanion';
import { loadManagerConfig } from '../../../../config/config.js';
import { agentRedisUrl, checkAgentId, provisionAgentUser } from '../../../../queue/agent-acl.js';
import { openRedis } from '../../../../queue/redis.js';
import { BaseCommand } from '../../../base-command.js';

export class AgentUserCreateCommand extends BaseCommand {
  static override paths = [
    ['admin', 'agent-user', 'create'],
    ['agent-user', 'create'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description:
      "Create (or re-key) an agent's own Redis ACL user and print the REDIS_URL the agent runs with. Runs on the manager's host: it uses the manager's REDIS_URL (an admin user) and BAI_QUEUE_PREFIX. Run it against every Redis server (primary and replicas): ACL users are not replicated.",
    examples: [
      ['Provision agent-host2', '$0 admin agent-user create agent-host2'],
      ['As JSON', '$0 admin agent-user create agent-host2 --json'],
    ],
  });

  id = Option.String({ name: 'AGENT_ID' });
  json = Option.Boolean('--json', false, {
    description: 'Print {"agentId","username","redisUrl","saved"}',
  });

  async run(): Promise<void> {
    checkAgentId(this.id);
    const cfg = loadManagerConfig(this.context.env);
    const redis = openRedis(cfg.redisUrl, {
      caFile: cfg.redisCaFile,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    redis.on('error', () => {});
    try {
      const user = await provisionAgentUser(redis, cfg.queuePrefix, this.id);
      const redisUrl = agentRedisUrl(cfg.redisUrl, user);
      if (this.json)
        return this.output.json({ agentId: this.id, username: user.username, redisUrl, saved: user.saved });
      this.output.line(`# Redis user ${user.username} for agent ${this.id}; on the agent's host:`);
      this.output.line(`export BAI_AGENT_ID=${this.id}`);
      this.output.line(`export BAI_QUEUE_PREFIX=${cfg.queuePrefix}`);
      this.output.line(`export REDIS_URL='${redisUrl}'`);
      if (!user.saved)
        this.output.line(
          '# Not saved: this Redis has no aclfile; the user is gone after a restart (see docs/deploy.md).',
        );
    } finally {
      redis.disconnect();
    }
  }
}
