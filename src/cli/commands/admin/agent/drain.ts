import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../../base-command.js';

export class AgentDrainCommand extends BaseCommand {
  static override paths = [
    ['admin', 'agent', 'drain'],
    ['agent', 'drain'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'Stop placing sessions on an agent (running ones finish); --undo makes it schedulable again',
    examples: [
      ['Drain', '$0 agent drain agent-host1'],
      ['Undo', '$0 agent drain agent-host1 --undo'],
    ],
  });

  id = Option.String({ name: 'AGENT_ID' });
  undo = Option.Boolean('--undo', false);
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const a = await this.client().request<{ id: string; schedulable: boolean; running_kernels: number }>(
      'PATCH',
      `/agents/${encodeURIComponent(this.id)}`,
      { schedulable: this.undo },
    );
    if (this.json) return this.output.json(a);
    this.output.line(
      a.schedulable
        ? `${a.id}: schedulable`
        : `${a.id}: drained (${a.running_kernels} kernel(s) still running)`,
    );
  }
}
