import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { relativeTime } from '../../output.js';

export class SessionStatusHistoryCommand extends BaseCommand {
  static override paths = [['session', 'status-history']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'When a session entered each status',
    examples: [['Show', '$0 session status-history job-1']],
  });

  ref = Option.String({ name: 'SESSION' });
  owner = Option.String('-o,--owner', { description: 'Owner access key (admins)' });
  json = Option.Boolean('--json', false, { description: 'Print {"STATUS": "ISO time", ...}' });

  async run(): Promise<void> {
    const r = await this.client().request<{ result: Record<string, string> }>(
      'GET',
      `/session/${encodeURIComponent(this.ref)}/status-history`,
      undefined,
      {
        owner_access_key: this.owner,
      },
    );
    if (this.json) return this.output.json(r.result);
    const entries = Object.entries(r.result).sort((a, b) => a[1].localeCompare(b[1]));
    this.output.table(
      ['STATUS', 'ENTERED', 'AGO'],
      entries.map(([s, t]) => [this.output.status(s), t, relativeTime(t)]),
    );
  }
}
