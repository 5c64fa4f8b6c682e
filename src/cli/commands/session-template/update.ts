import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { readInputText } from '../../input-file.js';

export class SessionTemplateUpdateCommand extends BaseCommand {
  static override paths = [
    ['session-template', 'update'],
    ['sesstpl', 'update'],
  ];
  static override usage = Command.Usage({
    category: 'Session templates',
    description: 'Replace a session template with the one in -f FILE or standard input',
    examples: [['From a file', '$0 session-template update 6f1c… -f job.yaml']],
  });

  id = Option.String({ name: 'TEMPLATE_ID' });
  file = Option.String('-f,--file', { description: 'Template file (default: standard input)' });
  group = Option.String('-g,--group', { description: 'Move it to this group' });
  owner = Option.String('-o,--owner,--owner-access-key', { description: "Admins: the owner's keypair" });
  json = Option.Boolean('--json', false, { description: 'Print JSON' });

  async run(): Promise<void> {
    const payload = await readInputText(this.file, this.context.stdin, {
      flag: '-f',
      empty: 'The template is empty (give -f FILE or pipe it in).',
    });
    const r = await this.client().request('PUT', `/template/session/${encodeURIComponent(this.id)}`, {
      payload,
      group: this.group,
      owner_access_key: this.owner,
    });
    if (this.json) return this.output.json(r);
    this.output.line(`Task template ${this.id} updated`);
  }
}
