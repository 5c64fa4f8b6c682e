import { Command, Option } from 'clipanion';
import { loadManagerConfig } from '../../../../config/config.js';
import { randomBytes } from 'node:crypto';
import {
  agentRedisUrl,
  checkAgentId,
  provisionAgentUser,
  redisServers,
  type AgentUser,
} from '../../../../queue/agent-acl.js';
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
      "Create (or re-key) an agent's own Redis ACL user and print the REDIS_URL the agent runs with. Runs on the manager's host: it uses the manager's REDIS_URL (an admin user) and BAI_QUEUE_PREFIX. Through Sentinel (redis+sentinel://) the user is made on the primary and every replica that is up: ACL users are not replicated.",
    examples: [
      ['Provision agent-host2', '$0 admin agent-user create agent-host2'],
      ['As JSON', '$0 admin agent-user create agent-host2 --json'],
    ],
  });

  id = Option.String({ name: 'AGENT_ID' });
  json = Option.Boolean('--json', false, {
    description: 'Print {"agentId","username","redisUrl","servers":[{"server","saved"}],"skipped"}',
  });

  async run(): Promise<void> {
    checkAgentId(this.id);
    const cfg = loadManagerConfig(this.context.env);
    // The same user, with the same password, on every server: ACL users are not replicated.
    const { urls, skipped } = await redisServers(cfg.redisUrl, cfg.redisCaFile);
    const password = randomBytes(24).toString('base64url');
    let user: AgentUser | null = null;
    const servers: { server: string; saved: boolean }[] = [];
    for (const url of urls) {
      const redis = openRedis(url, {
        caFile: cfg.redisCaFile,
        maxRetriesPerRequest: 1,
        retryStrategy: () => null,
      });
      redis.on('error', () => {});
      try {
        user = await provisionAgentUser(redis, cfg.queuePrefix, this.id, password);
        servers.push({ server: url.replace(/^.*@/, '').replace(/^[a-z]+:\/\//, ''), saved: user.saved });
      } finally {
        redis.disconnect();
      }
    }
    const redisUrl = agentRedisUrl(cfg.redisUrl, user!);
    if (this.json)
      return this.output.json({ agentId: this.id, username: user!.username, redisUrl, servers, skipped });
    this.output.line(`# Redis user ${user!.username} for agent ${this.id}; on the agent's host:`);
    this.output.line(`export BAI_AGENT_ID=${this.id}`);
    this.output.line(`export BAI_QUEUE_PREFIX=${cfg.queuePrefix}`);
    this.output.line(`export REDIS_URL='${redisUrl}'`);
    for (const s of servers.filter((x) => !x.saved))
      this.output.line(
        `# Not saved on ${s.server}: it has no aclfile; the user is gone after its restart (docs/deploy.md).`,
      );
    for (const s of skipped)
      this.output.line(`# Replica ${s} is down: run this again once it is back (same user, new password).`);
  }
}
