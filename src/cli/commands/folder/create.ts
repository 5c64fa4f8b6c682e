import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';

export class FolderCreateCommand extends BaseCommand {
  static override paths = [
    ['folder', 'create'],
    ['vfolder', 'create'],
  ];
  static override usage = Command.Usage({
    category: 'Storage folders',
    description: 'Create a storage folder owned by your keypair (mount it with -v NAME)',
    examples: [
      ['Create', '$0 folder create results'],
      ['For another keypair of your domain (admins)', '$0 folder create results -o AKIA…'],
    ],
  });

  name = Option.String({ name: 'NAME' });
  owner = Option.String('-o,--owner', { description: 'Admins: the keypair that owns it' });
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const f = await this.client().request<{ name: string; storage_path: string }>('POST', '/folders', {
      name: this.name,
      owner_access_key: this.owner,
    });
    if (this.json) return this.output.json(f);
    this.output.line(`${f.name}: created`);
  }
}
