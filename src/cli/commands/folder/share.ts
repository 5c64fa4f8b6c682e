import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';

export class FolderShareCommand extends BaseCommand {
  static override paths = [
    ['folder', 'share'],
    ['vfolder', 'invite'],
  ];
  static override usage = Command.Usage({
    category: 'Storage folders',
    description:
      'Share a folder with another keypair of your domain (read-only unless -p rw), or stop sharing',
    examples: [
      ['Read-only', '$0 folder share results AKIA…'],
      ['Read-write', '$0 folder share results AKIA… -p rw'],
      ['Stop sharing', '$0 folder share results AKIA… --revoke'],
    ],
  });

  name = Option.String({ name: 'NAME' });
  accessKey = Option.String({ name: 'ACCESS_KEY' });
  permission = Option.String('-p,--perm', 'ro', { description: 'ro (default) or rw' });
  revoke = Option.Boolean('--revoke', false, { description: 'Remove the share instead' });
  owner = Option.String('-o,--owner', { description: "Admins: the owner's keypair" });
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const path = `/folders/${encodeURIComponent(this.name)}/share`;
    const query = { owner_access_key: this.owner };
    const f = this.revoke
      ? await this.client().request<unknown>(
          'DELETE',
          `${path}/${encodeURIComponent(this.accessKey)}`,
          undefined,
          query,
        )
      : await this.client().request<unknown>(
          'POST',
          path,
          { access_key: this.accessKey, permission: this.permission },
          query,
        );
    if (this.json) return this.output.json(f);
    this.output.line(
      this.revoke
        ? `${this.name}: no longer shared with ${this.accessKey}`
        : `${this.name}: shared with ${this.accessKey} (${this.permission})`,
    );
  }
}
