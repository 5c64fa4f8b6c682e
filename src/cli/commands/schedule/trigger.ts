import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import type { ScheduleTriggerWire } from '../../../domain/schedule-wire.js';
import { schedulePath } from '../../schedule-view.js';

export class ScheduleTriggerCommand extends BaseCommand {
  static override paths = [['schedule', 'trigger']];
  static override usage = Command.Usage({
    category: 'Schedules',
    description: 'Start a run of a schedule now, outside its plan (also when suspended; its policy applies)',
    examples: [
      ['Run now', '$0 schedule trigger nightly'],
      [
        'Run now and follow it',
        '$0 session watch $($0 schedule trigger nightly --json | jq -r .sessionName)',
      ],
    ],
  });

  scheduleName = Option.String({ name: 'NAME' });
  owner = Option.String('-o,--owner', { description: "Another keypair's schedule (admins)" });
  json = Option.Boolean('--json', false, {
    description: 'Print {"sessionId", "sessionName", "scheduledFor"}',
  });

  async run(): Promise<void> {
    const r = await this.client().request<ScheduleTriggerWire>(
      'POST',
      schedulePath(this.scheduleName, '/trigger'),
      {},
      { owner_access_key: this.owner },
    );
    if (this.json) return this.output.json(r);
    this.output.line(`Session ${r.sessionName} (${r.sessionId}) started by schedule ${this.scheduleName}.`);
  }
}
