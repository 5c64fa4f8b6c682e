import { Command, Option } from 'clipanion';
import { stateDirOf } from '../../config/config.js';
import { BaseCommand } from '../base-command.js';
import { stackReset } from '../local-stack.js';

export class ResetCommand extends BaseCommand {
  static override paths = [['reset']];
  static override usage = Command.Usage({
    category: 'Local stack',
    description: 'Stop the local stack and remove its state: database, keys, Redis data, logs',
    details: `Runs bai down, then removes from the state folder (./.bai or BAI_STATE_DIR) the embedded database (sessions, history, keypairs), .bai/env (the admin keys), Redis's data, session storage, bai's own Docker engine's data, the logs and stack.json, saying each. The next bai up starts from nothing with new keys. Nothing outside the state folder is touched.`,
    examples: [['Start over', '$0 reset && $0 up']],
  });

  json = Option.Boolean('--json', false, { description: 'Print {"removed": [paths]}' });

  async run(): Promise<void> {
    const say = this.json ? () => {} : (s: string) => this.output.line(s);
    const removed = await stackReset(stateDirOf(this.context.env), say);
    if (this.json) this.output.json({ removed });
  }
}
