import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base-command.js';
import { relativeTime } from '../output.js';

interface Summary {
  sessionId: string;
  sessionName: string;
  type: string;
  status: string;
  statusInfo: string | null;
  result: string;
  exitCode: number | null;
  image: string;
  createdAt: string;
  ownerAccessKey: string;
}

export class PsCommand extends BaseCommand {
  static override paths = [['ps'], ['session', 'list']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'List sessions (live ones unless --status or --all-statuses)',
    examples: [
      ['Live sessions', '$0 ps'],
      ['Failed batch jobs tagged nightly', '$0 ps --status TERMINATED --type batch --tag nightly'],
      ['Every keypair (admins)', '$0 ps --all'],
    ],
  });

  status = Option.String('--status', { description: 'Comma-separated statuses' });
  allStatuses = Option.Boolean('-a,--all-statuses', false, { description: 'Include ended sessions' });
  type = Option.String('--type', { description: 'batch or interactive' });
  tag = Option.String('--tag');
  name = Option.String('--name');
  since = Option.String('--since', { description: 'Created after this ISO-8601 time' });
  all = Option.Boolean('--all', false, { description: 'All keypairs (admins)' });
  limit = Option.String('--limit', '50');
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const live = 'PENDING,SCHEDULED,PREPARING,PULLING,PREPARED,CREATING,RUNNING,TERMINATING,ERROR';
    const r = await this.client().request<{ items: Summary[]; total: number }>(
      'GET',
      '/sessions',
      undefined,
      {
        status: this.status ?? (this.allStatuses ? undefined : live),
        type: this.type,
        tag: this.tag,
        name: this.name,
        created_after: this.since,
        all: this.all ? 'true' : undefined,
        limit: this.limit,
      },
    );
    if (this.json) return this.output.json(r);
    this.output.table(
      ['ID', 'NAME', 'TYPE', 'STATUS', 'REASON', 'EXIT', 'CREATED', 'IMAGE'],
      r.items.map((s) => [
        s.sessionId.slice(0, 8),
        s.sessionName,
        s.type,
        this.output.status(s.status),
        s.statusInfo ?? '',
        s.exitCode === null ? '-' : String(s.exitCode),
        relativeTime(s.createdAt),
        s.image,
      ]),
    );
  }
}
