import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { readInputText } from '../../input-file.js';

export class SessionTemplateCreateCommand extends BaseCommand {
  static override paths = [
    ['session-template', 'create'],
    ['sesstpl', 'create'],
  ];
  static override usage = Command.Usage({
    category: 'Session templates',
    description: 'Store a session template (YAML or JSON, kind: taskTemplate) and print its id',
    details: 'Reads the template from -f FILE or standard input, as Backend.AI\'s "session-template create".',
    examples: [
      ['From a file', '$0 session-template create -f job.yaml'],
      ['From standard input', '$0 sesstpl create < job.yaml'],
    ],
  });

  file = Option.String('-f,--file', { description: 'Template file (default: standard input)' });
  domain = Option.String('-d,--domain', { description: "Domain (must be the owner's)" });
  group = Option.String('-g,--group', { description: 'Group of the sessions made from it' });
  owner = Option.String('-o,--owner,--owner-access-key', {
    description: 'Admins: store it for this keypair',
  });
  json = Option.Boolean('--json', false, { description: 'Print JSON' });

  async run(): Promise<void> {
    const payload = await readInputText(this.file, this.context.stdin, {
      flag: '-f',
      empty: 'The template is empty (give -f FILE or pipe it in).',
    });
    const r = await this.client().request<{ id: string; user: string }[]>('POST', '/template/session', {
      payload,
      domain: this.domain,
      group: this.group,
      owner_access_key: this.owner,
    });
    if (this.json) return this.output.json(r);
    for (const t of r) this.output.line(`Task template ${t.id} created and ready`);
  }
}
