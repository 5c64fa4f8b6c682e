import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { setSuspended } from '../../schedule-suspend.js';

export class ScheduleSuspendCommand extends BaseCommand {
  static override paths = [['schedule', 'suspend']];
  static override usage = Command.Usage({
    category: 'Schedules',
    description: 'Suspend a schedule: no run starts until it is resumed (runs under way go on)',
    examples: [['Suspend', '$0 schedule suspend nightly']],
  });

  scheduleName = Option.String({ name: 'NAME' });
  owner = Option.String('-o,--owner', { description: "Another keypair's schedule (admins)" });
  json = Option.Boolean('--json', false, { description: 'Print the schedule as JSON' });

  async run(): Promise<void> {
    await setSuspended(this, this.scheduleName, true, this.json, this.owner);
  }
}
