import { Command, Option } from 'clipanion';
import { BaseCommand, InvalidArgument } from '../../../base-command.js';
import { readInputText } from '../../../input-file.js';

export class KeypairUpdateCommand extends BaseCommand {
  static override paths = [
    ['admin', 'keypair', 'update'],
    ['keypair', 'update'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description:
      'Change a keypair: its bootstrap script (run by its sessions whose request brings none) or resource policy',
    examples: [
      ['Set the bootstrap script', '$0 keypair update AKIA0123456789ABCDEF --bootstrap-script setup.sh'],
      ['Clear it', '$0 keypair update AKIA0123456789ABCDEF --clear-bootstrap-script'],
    ],
  });

  accessKey = Option.String({ name: 'ACCESS_KEY' });
  bootstrapScript = Option.String('--bootstrap-script', { description: 'A file ("-": standard input)' });
  clearBootstrap = Option.Boolean('--clear-bootstrap-script', false);
  policy = Option.String('--resource-policy');
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    if (this.bootstrapScript !== undefined && this.clearBootstrap)
      throw new InvalidArgument('--bootstrap-script and --clear-bootstrap-script exclude each other.');
    const body: Record<string, unknown> = {};
    if (this.bootstrapScript !== undefined)
      body.bootstrap_script = await readInputText(this.bootstrapScript, this.context.stdin, {
        flag: '--bootstrap-script',
      });
    if (this.clearBootstrap) body.bootstrap_script = null;
    if (this.policy !== undefined) body.resource_policy = this.policy;
    if (Object.keys(body).length === 0) throw new InvalidArgument('Nothing to change: give a flag.');
    const k = await this.client().request<{
      access_key: string;
      bootstrap_script: string | null;
      resource_policy: string;
    }>('PATCH', `/keypairs/${encodeURIComponent(this.accessKey)}`, body);
    if (this.json) return this.output.json(k);
    this.output.line(
      `${k.access_key}: resource policy ${k.resource_policy}, bootstrap script ${k.bootstrap_script === null ? 'none' : `${k.bootstrap_script.length} characters`}`,
    );
  }
}
