import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import type { ScheduleWire } from '../../../domain/schedule-wire.js';
import { SCHEDULE_LIST_HEADERS, scheduleListRows } from '../../schedule-view.js';

export class ScheduleListCommand extends BaseCommand {
  static override paths = [
    ['schedule', 'list'],
    ['schedule', 'ls'],
  ];
  static override usage = Command.Usage({
    category: 'Schedules',
    description: 'List schedules: cron, zone, policy, next instant, last result, state',
    examples: [
      ['Your schedules', '$0 schedule list'],
      ["The domain's (admins)", '$0 schedule list -a'],
      ['As JSON', '$0 schedule list --json'],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: "Admins: the domain's (superadmins: all)" });
  owner = Option.String('-o,--owner', { description: "Another keypair's schedule (admins)" });
  json = Option.Boolean('--json', false, { description: 'Print {"items": [...]}' });

  async run(): Promise<void> {
    const r = await this.client().request<{ items: ScheduleWire[] }>('GET', '/schedules', undefined, {
      all: this.all ? 'true' : undefined,
      owner_access_key: this.owner,
    });
    if (this.json) return this.output.json({ items: r.items });
    if (r.items.length === 0) return this.output.line('No schedules (bai schedule create makes one).');
    this.output.table(SCHEDULE_LIST_HEADERS, scheduleListRows(r.items));
  }
}
