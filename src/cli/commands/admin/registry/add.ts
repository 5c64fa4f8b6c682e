import { Command, Option } from 'clipanion';
import { BaseCommand, InvalidArgument } from '../../../base-command.js';

export class RegistryAddCommand extends BaseCommand {
  static override paths = [
    ['admin', 'registry', 'add'],
    ['registry', 'add'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'Add or change a container registry; credentials are stored and never shown again',
    details: 'The password comes from --password or BAI_REGISTRY_PASSWORD (keeps it out of shell history).',
    examples: [
      ['Public', '$0 registry add 127.0.0.1:5000 --url http://127.0.0.1:5000'],
      ['With credentials', 'BAI_REGISTRY_PASSWORD=… $0 registry add registry.example.com --username robot'],
    ],
  });

  hostname = Option.String({ name: 'HOSTNAME' });
  url = Option.String('--url');
  username = Option.String('--username');
  password = Option.String('--password');
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const password = this.password ?? this.context.env.BAI_REGISTRY_PASSWORD;
    if ((this.username === undefined) !== (password === undefined))
      throw new InvalidArgument('--username and a password go together.');
    const r = await this.client().request<{ hostname: string; url: string; has_credentials: boolean }>(
      'POST',
      '/registries',
      { hostname: this.hostname, url: this.url, username: this.username, password },
    );
    if (this.json) return this.output.json(r);
    this.output.line(`${r.hostname} (${r.url})${r.has_credentials ? ', with credentials' : ''}`);
  }
}
