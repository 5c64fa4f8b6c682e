import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { relativeTime } from '../../output.js';

interface Folder {
  name: string;
  owner_access_key: string;
  access: string;
  created_at: string;
  shares?: { access_key: string; permission: string }[];
}

export class FolderListCommand extends BaseCommand {
  static override paths = [
    ['folder', 'list'],
    ['vfolder', 'list'],
  ];
  static override usage = Command.Usage({
    category: 'Storage folders',
    description: 'List your storage folders and those shared with you',
    examples: [
      ['List', '$0 folder list'],
      ['As JSON', '$0 folder list --json'],
    ],
  });

  owner = Option.String('-o,--owner', { description: 'Admins: the folders of this keypair' });
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const r = await this.client().request<{ items: Folder[] }>('GET', '/folders', undefined, {
      owner_access_key: this.owner,
    });
    if (this.json) return this.output.json(r.items);
    this.output.table(
      ['NAME', 'ACCESS', 'OWNER', 'SHARED WITH', 'CREATED'],
      r.items.map((f) => [
        f.name,
        f.access,
        f.owner_access_key,
        f.shares && f.shares.length > 0
          ? f.shares.map((s) => `${s.access_key}:${s.permission}`).join(',')
          : '-',
        relativeTime(f.created_at),
      ]),
    );
  }
}
