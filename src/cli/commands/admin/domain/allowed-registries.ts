import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../../base-command.js';

export class DomainAllowedRegistriesCommand extends BaseCommand {
  static override paths = [
    ['admin', 'domain', 'allowed-registries'],
    ['domain', 'allowed-registries'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'Show, or set, the registries a domain may use images from',
    examples: [
      ['Show', '$0 domain allowed-registries default'],
      ['Set', '$0 domain allowed-registries default bai.local 127.0.0.1:5000'],
    ],
  });

  domain = Option.String({ name: 'DOMAIN' });
  hosts = Option.Rest();
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const path = `/domains/${encodeURIComponent(this.domain)}`;
    const d =
      this.hosts.length > 0
        ? await this.client().request<{ name: string; allowed_registries: string[] }>('PATCH', path, {
            allowed_registries: this.hosts,
          })
        : await this.client().request<{ name: string; allowed_registries: string[] }>('GET', path);
    if (this.json) return this.output.json(d);
    for (const h of d.allowed_registries) this.output.line(h);
  }
}
