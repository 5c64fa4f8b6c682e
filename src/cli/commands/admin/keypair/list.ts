import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../../base-command.js';
import { relativeTime } from '../../../output.js';

interface Keypair {
  access_key: string;
  user_email: string;
  domain_name: string;
  role: string;
  is_active: boolean;
  resource_policy: string;
  created_at: string;
}

export class KeypairListCommand extends BaseCommand {
  static override paths = [
    ['admin', 'keypair', 'list'],
    ['keypair', 'list'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'List keypairs (admins: of their domain; superadmins: all)',
    examples: [['Inactive ones', '$0 keypair list --inactive']],
  });

  domain = Option.String('-d,--domain');
  inactive = Option.Boolean('--inactive', false, { description: 'Only deactivated keypairs' });
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const r = await this.client().request<{ items: Keypair[] }>('GET', '/keypairs', undefined, {
      domain: this.domain,
      is_active: this.inactive ? 'false' : undefined,
    });
    if (this.json) return this.output.json(r.items);
    this.output.table(
      ['ACCESS KEY', 'EMAIL', 'DOMAIN', 'ROLE', 'ACTIVE', 'POLICY', 'CREATED'],
      r.items.map((k) => [
        k.access_key,
        k.user_email,
        k.domain_name,
        k.role,
        k.is_active ? 'yes' : this.output.red('no'),
        k.resource_policy,
        relativeTime(k.created_at),
      ]),
    );
  }
}
