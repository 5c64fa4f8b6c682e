import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../../base-command.js';
import { formatSlot } from '../../../../domain/resources.js';
import { relativeTime } from '../../../output.js';

interface Agent {
  id: string;
  scaling_group: string;
  status: string;
  schedulable: boolean;
  available_slots: Record<string, number>;
  occupied_slots: Record<string, number>;
  running_kernels: number;
  last_heartbeat: string;
}

export class AgentListCommand extends BaseCommand {
  static override paths = [
    ['admin', 'agent', 'list'],
    ['agent', 'list'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'List agents with capacity, occupancy and whether they take new sessions',
    examples: [
      ['All', '$0 agent list'],
      ['One group', '$0 agent list --scaling-group gpu'],
    ],
  });

  scalingGroup = Option.String('--scaling-group,--sgroup');
  status = Option.String('--status', { description: 'ALIVE, LOST or TERMINATED' });
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const r = await this.client().request<{ items: Agent[] }>('GET', '/agents', undefined, {
      scaling_group: this.scalingGroup,
      status: this.status,
    });
    if (this.json) return this.output.json(r.items);
    const use = (a: Agent, slot: string) =>
      `${formatSlot(slot, a.occupied_slots[slot] ?? 0)}/${formatSlot(slot, a.available_slots[slot] ?? 0)}`;
    this.output.table(
      ['ID', 'GROUP', 'STATUS', 'SCHEDULABLE', 'CPU', 'MEM', 'KERNELS', 'HEARTBEAT'],
      r.items.map((a) => [
        a.id,
        a.scaling_group,
        a.status === 'ALIVE' ? this.output.green(a.status) : this.output.red(a.status),
        a.schedulable ? 'yes' : this.output.red('drained'),
        use(a, 'cpu'),
        use(a, 'mem'),
        String(a.running_kernels),
        relativeTime(a.last_heartbeat),
      ]),
    );
  }
}
