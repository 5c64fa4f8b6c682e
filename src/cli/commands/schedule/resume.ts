import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { setSuspended } from '../../schedule-suspend.js';

export class ScheduleResumeCommand extends BaseCommand {
  static override paths = [['schedule', 'resume']];
  static override usage = Command.Usage({
    category: 'Schedules',
    description:
      'Resume a suspended schedule: it fires from its next instant on (the instants it slept through are not run)',
    examples: [['Resume', '$0 schedule resume nightly']],
  });

  scheduleName = Option.String({ name: 'NAME' });
  owner = Option.String('-o,--owner', { description: "Another keypair's schedule (admins)" });
  json = Option.Boolean('--json', false, { description: 'Print the schedule as JSON' });

  async run(): Promise<void> {
    await setSuspended(this, this.scheduleName, false, this.json, this.owner);
  }
}
