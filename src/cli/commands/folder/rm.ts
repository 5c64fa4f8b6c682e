import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';

export class FolderDeleteCommand extends BaseCommand {
  static override paths = [
    ['folder', 'rm'],
    ['vfolder', 'delete'],
  ];
  static override usage = Command.Usage({
    category: 'Storage folders',
    description: 'Delete a storage folder you own (its shares go with it; the files stay on the agents)',
    examples: [['Delete', '$0 folder rm results']],
  });

  name = Option.String({ name: 'NAME' });
  owner = Option.String('-o,--owner', { description: "Admins: the owner's keypair" });
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const r = await this.client().request<{ deleted: string }>(
      'DELETE',
      `/folders/${encodeURIComponent(this.name)}`,
      undefined,
      { owner_access_key: this.owner },
    );
    if (this.json) return this.output.json(r);
    this.output.line(`${r.deleted}: deleted`);
  }
}
