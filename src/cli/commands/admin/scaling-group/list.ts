import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../../base-command.js';

interface Group {
  name: string;
  description: string;
  is_active: boolean;
  pending_timeout_sec: number;
}

export class ScalingGroupListCommand extends BaseCommand {
  static override paths = [
    ['admin', 'scaling-group', 'list'],
    ['scaling-group', 'list'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'List scaling groups',
    examples: [['All', '$0 scaling-group list']],
  });

  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const r = await this.client().request<{ items: Group[] }>('GET', '/scaling-groups');
    if (this.json) return this.output.json(r.items);
    this.output.table(
      ['NAME', 'ACTIVE', 'PENDING TIMEOUT', 'DESCRIPTION'],
      r.items.map((g) => [
        g.name,
        g.is_active ? 'yes' : 'no',
        g.pending_timeout_sec ? `${g.pending_timeout_sec} s` : '-',
        g.description,
      ]),
    );
  }
}
