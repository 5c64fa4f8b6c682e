import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../../base-command.js';

export class ImageAliasListCommand extends BaseCommand {
  static override paths = [
    ['admin', 'image', 'alias', 'list'],
    ['image', 'alias', 'list'],
    ['image', 'list'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'List image aliases and what they point at',
    examples: [['All', '$0 image alias list']],
  });

  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const r = await this.client().request<{ items: { alias: string; image: string }[] }>(
      'GET',
      '/image-aliases',
    );
    if (this.json) return this.output.json(r.items);
    this.output.table(
      ['ALIAS', 'IMAGE'],
      r.items.map((a) => [a.alias, a.image]),
    );
  }
}
