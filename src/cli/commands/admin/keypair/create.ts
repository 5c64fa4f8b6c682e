import { Command, Option } from 'clipanion';
import { BaseCommand, InvalidArgument } from '../../../base-command.js';
import { readInputText } from '../../../input-file.js';

interface Created {
  access_key: string;
  secret_key: string;
  webhook_secret: string;
  role: string;
  domain_name: string;
}

export class KeypairCreateCommand extends BaseCommand {
  static override paths = [
    ['admin', 'keypair', 'create'],
    ['keypair', 'create'],
  ];
  static override usage = Command.Usage({
    category: 'Administration',
    description: 'Create a keypair; its secret key and webhook secret are shown this once',
    examples: [
      ['A user', '$0 keypair create alice@example.com'],
      ['A domain admin', '$0 keypair create bob@example.com --role admin --domain research'],
    ],
  });

  email = Option.String({ name: 'EMAIL' });
  role = Option.String('--role', 'user', { description: 'user, admin or superadmin' });
  domain = Option.String('-d,--domain', { description: 'Domain (default: your own)' });
  policy = Option.String('--resource-policy', 'default');
  rateLimit = Option.String('--rate-limit', { description: 'Requests a minute' });
  bootstrapScript = Option.String('--bootstrap-script', {
    description: 'A file run by its sessions whose request brings no bootstrap script',
  });
  json = Option.Boolean('--json', false);

  async run(): Promise<void> {
    const rateLimit = this.rateLimit === undefined ? undefined : Number(this.rateLimit);
    if (rateLimit !== undefined && !Number.isInteger(rateLimit))
      throw new InvalidArgument('--rate-limit must be an integer.');
    const k = await this.client().request<Created>('POST', '/keypairs', {
      user_email: this.email,
      role: this.role,
      domain_name: this.domain,
      resource_policy: this.policy,
      rate_limit: rateLimit,
      ...(this.bootstrapScript !== undefined
        ? {
            bootstrap_script: await readInputText(this.bootstrapScript, this.context.stdin, {
              flag: '--bootstrap-script',
            }),
          }
        : {}),
    });
    if (this.json) return this.output.json(k);
    this.output.line(`access key:     ${k.access_key}`);
    this.output.line(`secret key:     ${k.secret_key}`);
    this.output.line(`webhook secret: ${k.webhook_secret}`);
    this.output.line(this.output.dim('The secret key is not shown again.'));
  }
}
