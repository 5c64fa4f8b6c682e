import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../../base-command.js';

export class RegistryListCommand extends BaseCommand {
  static override paths = [
    ['admin', 'registry', 'list'],
    ['registry', 'list'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'List container registries (whether they have credentials, never the credentials)',
    examples: [['All', '$0 registry list']],
  });

  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const r = await this.client().request<{
      items: { hostname: string; url: string; has_credentials: boolean }[];
    }>('GET', '/registries');
    if (this.json) return this.output.json(r.items);
    this.output.table(
      ['HOSTNAME', 'URL', 'CREDENTIALS'],
      r.items.map((x) => [x.hostname, x.url, x.has_credentials ? 'yes' : 'no']),
    );
  }
}
