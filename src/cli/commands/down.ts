import { Command, Option } from 'clipanion';
import { stateDirOf } from '../../config/config.js';
import { BaseCommand } from '../base-command.js';
import { stackDown } from '../local-stack.js';

export class DownCommand extends BaseCommand {
  static override paths = [['down']];
  static override usage = Command.Usage({
    category: 'Local stack',
    description: 'Stop what bai up started; the data stays',
    details: `Stops the agent, the manager, and the Redis and Docker engine bai up started, each only while its pid is still the process bai up started (same start time). A record whose process ended, or whose pid now belongs to another process, is cleared without a signal. The database, the keys in .bai/env and Redis's data stay for the next bai up (bai reset removes them).`,
    examples: [['Stop', '$0 down']],
  });

  json = Option.Boolean('--json', false, {
    description: 'Print {"stopped": [{"name", "pid"}], "cleared": [{"name", "pid", "reason"}]}',
  });

  async run(): Promise<void> {
    const say = this.json ? () => {} : (s: string) => this.output.line(s);
    const res = await stackDown(stateDirOf(this.context.env), say);
    if (this.json) this.output.json(res ?? { stopped: [], cleared: [] });
    else if (!res) this.output.line('Nothing to stop.');
  }
}
