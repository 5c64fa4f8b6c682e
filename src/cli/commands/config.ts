import { Command, Option } from 'clipanion';
import { BaseCommand } from '../base-command.js';
import { resolveClientConfig } from '../client.js';

export class ConfigCommand extends BaseCommand {
  static override paths = [['config']];
  static override usage = Command.Usage({
    category: 'Configuration',
    description: 'Show the client settings in use and where each comes from',
    details: `Each setting comes from the first place that has it: --endpoint; the environment (BACKEND_ENDPOINT, BACKEND_ACCESS_KEY, BACKEND_SECRET_KEY, BAI_TOKEN, BACKEND_DOMAIN, BACKEND_GROUP, BACKEND_API_VERSION); .bai/env written by \`bai up\` (the folder BAI_STATE_DIR names, default ./.bai); the config file ($BAI_CONFIG, else $XDG_CONFIG_HOME/bai/config.json, else ~/.config/bai/config.json), a JSON object with the keys endpoint, accessKey, secretKey, token, domain, group, apiVersion. The access and secret keys always come together from one place. Secrets are masked.`,
    examples: [
      ['Show', '$0 config'],
      ['As JSON', '$0 config --json'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print the settings as JSON' });

  async run(): Promise<void> {
    const { config, sources, files } = resolveClientConfig(this.context.env, { endpoint: this.endpoint });
    const mask = (v: string | null) =>
      v ? `${v.slice(0, 4)}${'*'.repeat(Math.max(0, v.length - 4))}` : null;
    const rows: [string, string | null, string][] = [
      ['endpoint', config.endpoint, sources.BACKEND_ENDPOINT!],
      ['accessKey', config.accessKey, sources.BACKEND_ACCESS_KEY!],
      ['secretKey', mask(config.secretKey), sources.BACKEND_SECRET_KEY!],
      ['token', mask(config.token), sources.BAI_TOKEN!],
      ['domain', config.domain, sources.BACKEND_DOMAIN!],
      ['group', config.group, sources.BACKEND_GROUP!],
      ['apiVersion', config.apiVersion, sources.BACKEND_API_VERSION!],
    ];
    if (this.json) {
      this.output.json({
        settings: Object.fromEntries(rows.map(([k, v, source]) => [k, { value: v, source }])),
        files: { stateEnv: files.stateEnv, configFile: files.config },
      });
      return;
    }
    this.output.table(
      ['SETTING', 'VALUE', 'FROM'],
      rows.map(([k, v, source]) => [k, v ?? '-', source]),
    );
    this.output.line();
    this.output.line(`.bai/env:    ${files.stateEnv}`);
    this.output.line(`config file: ${files.config ?? '-'}`);
  }
}
