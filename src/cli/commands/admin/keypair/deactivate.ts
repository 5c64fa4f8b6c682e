import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../../base-command.js';

export class KeypairDeactivateCommand extends BaseCommand {
  static override paths = [
    ['admin', 'keypair', 'deactivate'],
    ['keypair', 'deactivate'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'Deactivate a keypair: its requests and tokens get 401 at once (--undo reactivates)',
    examples: [['Deactivate', '$0 keypair deactivate AKIA0123456789ABCDEF']],
  });

  accessKey = Option.String({ name: 'ACCESS_KEY' });
  undo = Option.Boolean('--undo', false, { description: 'Reactivate instead' });
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const k = await this.client().request<{ access_key: string; is_active: boolean }>(
      'PATCH',
      `/keypairs/${encodeURIComponent(this.accessKey)}`,
      { is_active: this.undo },
    );
    if (this.json) return this.output.json(k);
    this.output.line(`${k.access_key}: ${k.is_active ? 'active' : 'deactivated'}`);
  }
}
