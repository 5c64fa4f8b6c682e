import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../../base-command.js';

export class ImageAliasSetCommand extends BaseCommand {
  static override paths = [
    ['admin', 'image', 'alias', 'set'],
    ['image', 'alias', 'set'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'Point an alias at an image (registered with --register if it is new)',
    examples: [
      ['Alias a registered image', '$0 image alias set python bai.local/python:3.11-bookworm'],
      [
        'Register and alias',
        '$0 image alias set tool 127.0.0.1:5000/team/tool:1 --register --label ai.backend.resource.min.mem=256m',
      ],
    ],
  });

  alias = Option.String({ name: 'ALIAS' });
  image = Option.String({ name: 'IMAGE' });
  register = Option.Boolean('--register', false, { description: 'Register the image first' });
  labels = Option.Array('--label', [], { description: 'K=V image label (with --register)' });
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const client = this.client();
    if (this.register) {
      const labels = Object.fromEntries(
        this.labels.map((l) => {
          const i = l.indexOf('=');
          return i < 0 ? [l, ''] : [l.slice(0, i), l.slice(i + 1)];
        }),
      );
      await client.request('POST', '/images', { name: this.image, labels });
    }
    const a = await client.request<{ alias: string; image: string }>(
      'PUT',
      `/image-aliases/${encodeURIComponent(this.alias)}`,
      { image: this.image },
    );
    if (this.json) return this.output.json(a);
    this.output.line(`${a.alias} → ${a.image}`);
  }
}
