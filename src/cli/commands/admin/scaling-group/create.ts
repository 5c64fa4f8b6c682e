import { Command, Option } from 'clipanion';
import { BaseCommand, InvalidArgument } from '../../../base-command.js';

export class ScalingGroupCreateCommand extends BaseCommand {
  static override paths = [
    ['admin', 'scaling-group', 'create'],
    ['scaling-group', 'create'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'Create a scaling group (agents join it with BAI_SCALING_GROUP)',
    examples: [['GPU hosts', '$0 scaling-group create gpu --description "GPU hosts" --pending-timeout 3600']],
  });

  name = Option.String({ name: 'NAME' });
  description = Option.String('--description', '');
  pendingTimeout = Option.String('--pending-timeout', {
    description: 'Seconds a session may wait PENDING (0: forever)',
  });
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const t = this.pendingTimeout === undefined ? undefined : Number(this.pendingTimeout);
    if (t !== undefined && !Number.isInteger(t))
      throw new InvalidArgument('--pending-timeout must be seconds.');
    const g = await this.client().request<{ name: string }>('POST', '/scaling-groups', {
      name: this.name,
      description: this.description,
      pending_timeout_sec: t,
    });
    if (this.json) return this.output.json(g);
    this.output.line(`scaling group ${g.name} created`);
  }
}
