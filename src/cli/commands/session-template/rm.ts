import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';

export class SessionTemplateDeleteCommand extends BaseCommand {
  static override paths = [
    ['session-template', 'delete'],
    ['session-template', 'rm'],
    ['sesstpl', 'delete'],
  ];
  static override usage = Command.Usage({
    category: 'Session templates',
    description: 'Delete a session template',
    details: "Backend.AI's CLI asks for confirmation unless -f; bai accepts -f/--force and does not ask.",
    examples: [['Delete', '$0 session-template delete 6f1c…']],
  });

  id = Option.String({ name: 'TEMPLATE_ID' });
  force = Option.Boolean('-f,--force', false, { description: 'Accepted for Backend.AI compatibility' });
  owner = Option.String('-o,--owner,--owner-access-key', { description: "Admins: the owner's keypair" });
  json = Option.Boolean('--json', false, { description: 'Print JSON' });

  async run(): Promise<void> {
    const r = await this.client().request(
      'DELETE',
      `/template/session/${encodeURIComponent(this.id)}`,
      undefined,
      {
        owner_access_key: this.owner,
      },
    );
    if (this.json) return this.output.json(r);
    this.output.line(`Task template ${this.id} deleted`);
  }
}
