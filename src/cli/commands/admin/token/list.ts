import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../../base-command.js';
import { relativeTime } from '../../../output.js';

interface Token {
  id: string;
  access_key: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export class TokenListCommand extends BaseCommand {
  static override paths = [
    ['admin', 'token', 'list'],
    ['token', 'list'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'List bearer tokens (never the tokens themselves)',
    examples: [
      ['Yours', '$0 token list'],
      ['Of your domain, revoked too', '$0 token list --all --revoked'],
    ],
  });

  accessKey = Option.String('--access-key');
  all = Option.Boolean('--all', false, { description: 'Admins: every keypair they manage' });
  revoked = Option.Boolean('--revoked', false, { description: 'Include revoked tokens' });
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const r = await this.client().request<{ items: Token[] }>('GET', '/tokens', undefined, {
      access_key: this.accessKey,
      all: this.all ? 'true' : undefined,
      include_revoked: this.revoked ? 'true' : undefined,
    });
    if (this.json) return this.output.json(r.items);
    this.output.table(
      ['ID', 'NAME', 'ACCESS KEY', 'CREATED', 'LAST USED', 'REVOKED'],
      r.items.map((t) => [
        t.id,
        t.name || '-',
        t.access_key,
        relativeTime(t.created_at),
        relativeTime(t.last_used_at),
        t.revoked_at ? this.output.red(relativeTime(t.revoked_at)) : '-',
      ]),
    );
  }
}
