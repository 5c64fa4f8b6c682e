import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import type { ScheduleWire } from '../../../domain/schedule-wire.js';
import { scheduleInfoLines, schedulePath } from '../../schedule-view.js';

export class ScheduleInfoCommand extends BaseCommand {
  static override paths = [['schedule', 'info']];
  static override usage = Command.Usage({
    category: 'Schedules',
    description: "Show a schedule: its next five instants in its zone and its last runs' results",
    examples: [
      ['By name', '$0 schedule info nightly'],
      ['As JSON', '$0 schedule info nightly --json'],
    ],
  });

  scheduleName = Option.String({ name: 'NAME' });
  owner = Option.String('-o,--owner', { description: "Another keypair's schedule (admins)" });
  json = Option.Boolean('--json', false, { description: 'Print the schedule with nextInstants and runs' });

  async run(): Promise<void> {
    const s = await this.client().request<ScheduleWire>('GET', schedulePath(this.scheduleName), undefined, {
      owner_access_key: this.owner,
    });
    if (this.json) return this.output.json(s);
    for (const line of scheduleInfoLines(s, this.output)) this.output.line(line);
  }
}
