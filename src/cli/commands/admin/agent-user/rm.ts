import { Command, Option } from 'clipanion';
import { loadManagerConfig } from '../../../../config/config.js';
import { redisServers, removeAgentUser } from '../../../../queue/agent-acl.js';
import { openRedis } from '../../../../queue/redis.js';
import { BaseCommand } from '../../../base-command.js';

export class AgentUserRmCommand extends BaseCommand {
  static override paths = [
    ['admin', 'agent-user', 'rm'],
    ['agent-user', 'rm'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description:
      "Delete an agent's Redis ACL user: the agent can no longer connect (its connections are closed)",
    examples: [['Retire agent-host2', '$0 admin agent-user rm agent-host2']],
  });

  id = Option.String({ name: 'AGENT_ID' });
  json = Option.Boolean('--json', false, { description: 'Print {"agentId","removed"}' });

  async run(): Promise<void> {
    const cfg = loadManagerConfig(this.context.env);
    const { urls } = await redisServers(cfg.redisUrl, cfg.redisCaFile);
    let removed = false;
    for (const url of urls) {
      const redis = openRedis(url, {
        caFile: cfg.redisCaFile,
        maxRetriesPerRequest: 1,
        retryStrategy: () => null,
      });
      redis.on('error', () => {});
      try {
        if (await removeAgentUser(redis, cfg.queuePrefix, this.id)) removed = true;
      } finally {
        redis.disconnect();
      }
    }
    if (this.json) return this.output.json({ agentId: this.id, removed });
    this.output.line(removed ? `removed the Redis user of ${this.id}` : `${this.id} had no Redis user`);
  }
}
