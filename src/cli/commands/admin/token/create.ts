import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../../base-command.js';

export class TokenCreateCommand extends BaseCommand {
  static override paths = [
    ['admin', 'token', 'create'],
    ['token', 'create'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'Create a bearer token for scripts (cron, CI); it is shown this once',
    details: 'Use it as `Authorization: Bearer <token>` or BAI_TOKEN=<token> for the CLI.',
    examples: [
      ['For yourself', '$0 token create --name nightly-cron'],
      ['For a keypair you manage', '$0 token create --name ci --access-key AKIA0123456789ABCDEF'],
    ],
  });

  name = Option.String('--name', '');
  accessKey = Option.String('--access-key');
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const t = await this.client().request<{ id: string; token: string; access_key: string }>(
      'POST',
      '/tokens',
      {
        name: this.name,
        access_key: this.accessKey,
      },
    );
    if (this.json) return this.output.json(t);
    this.output.line(`token id: ${t.id}`);
    this.output.line(`token:    ${t.token}`);
    this.output.line(this.output.dim('The token is not shown again; it is stored hashed.'));
  }
}
