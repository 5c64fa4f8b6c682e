import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../../base-command.js';

export class TokenRevokeCommand extends BaseCommand {
  static override paths = [
    ['admin', 'token', 'revoke'],
    ['token', 'revoke'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'Revoke a bearer token: requests with it get 401 at once',
    examples: [['Revoke', '$0 token revoke 6f1c…']],
  });

  id = Option.String({ name: 'TOKEN_ID' });
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const t = await this.client().request<{ id: string; revoked_at: string }>(
      'DELETE',
      `/tokens/${encodeURIComponent(this.id)}`,
    );
    if (this.json) return this.output.json(t);
    this.output.line(`${t.id}: revoked`);
  }
}
