import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { stringify } from 'yaml';
import { BaseCommand } from '../../base-command.js';

export class SessionTemplateGetCommand extends BaseCommand {
  static override paths = [
    ['session-template', 'get'],
    ['sesstpl', 'get'],
  ];
  static override usage = Command.Usage({
    category: 'Session templates',
    description: 'Print a session template (YAML by default, as Backend.AI prints it)',
    examples: [
      ['As YAML', '$0 session-template get 6f1c…'],
      ['As JSON', '$0 session-template get 6f1c… --json'],
    ],
  });

  id = Option.String({ name: 'TEMPLATE_ID' });
  format = Option.String('-f,--format', 'yaml', {
    validator: t.isEnum(['yaml', 'json']),
    description: 'yaml or json',
  });
  owner = Option.String('-o,--owner,--owner-access-key', { description: "Admins: the owner's keypair" });
  json = Option.Boolean('--json', false, { description: 'Print JSON (same as -f json)' });

  async run(): Promise<void> {
    const r = await this.client().request<Record<string, unknown>>(
      'GET',
      `/template/session/${encodeURIComponent(this.id)}`,
      undefined,
      { format: 'json', owner_access_key: this.owner },
    );
    if (this.json || this.format === 'json') return this.output.json(r);
    this.context.stdout.write(stringify(r));
  }
}
