import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { relativeTime } from '../../output.js';

interface TemplateEntry {
  id: string;
  name: string;
  created_at: string;
  is_owner: boolean;
  user: string;
  group: string | null;
  type: string;
}

export class SessionTemplateListCommand extends BaseCommand {
  static override paths = [
    ['session-template', 'list'],
    ['sesstpl', 'list'],
  ];
  static override usage = Command.Usage({
    category: 'Session templates',
    description: 'List your session templates (admins: -a for every one they may see)',
    examples: [
      ['List', '$0 session-template list'],
      ['As JSON', '$0 session-template list --json'],
    ],
  });

  all = Option.Boolean('-a,--list-all', false, { description: "Admins: the domain's (superadmins: all)" });
  owner = Option.String('-o,--owner,--owner-access-key', {
    description: 'Admins: the templates of this keypair',
  });
  json = Option.Boolean('--json', false, { description: 'Print JSON' });

  async run(): Promise<void> {
    const r = await this.client().request<TemplateEntry[]>('GET', '/template/session', undefined, {
      all: this.all ? 'true' : undefined,
      owner_access_key: this.owner,
    });
    if (this.json) return this.output.json(r);
    if (r.length === 0) return this.output.line('There is no task templates created yet.');
    this.output.table(
      ['NAME', 'ID', 'CREATED', 'OWNER', 'TYPE', 'USER', 'GROUP'],
      r.map((t) => [
        t.name,
        t.id,
        relativeTime(t.created_at),
        t.is_owner ? 'yes' : 'no',
        t.type,
        t.user,
        t.group ?? '-',
      ]),
    );
  }
}
