import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { schedulePath } from '../../schedule-view.js';

export class ScheduleDeleteCommand extends BaseCommand {
  static override paths = [
    ['schedule', 'rm'],
    ['schedule', 'delete'],
  ];
  static override usage = Command.Usage({
    category: 'Schedules',
    description: 'Delete a schedule and its run history (sessions it started go on)',
    examples: [['Delete', '$0 schedule rm nightly']],
  });

  scheduleName = Option.String({ name: 'NAME' });
  owner = Option.String('-o,--owner', { description: "Another keypair's schedule (admins)" });
  json = Option.Boolean('--json', false, { description: 'Print {"schedule", "deleted"}' });

  async run(): Promise<void> {
    await this.client().request('DELETE', schedulePath(this.scheduleName), undefined, {
      owner_access_key: this.owner,
    });
    if (this.json) return this.output.json({ schedule: this.scheduleName, deleted: true });
    this.output.line(`Schedule ${this.scheduleName} deleted.`);
  }
}
