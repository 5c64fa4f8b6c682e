import { Command, Option } from 'clipanion';
import { join } from 'node:path';
import { stateDirOf } from '../../config/config.js';
import { BaseCommand } from '../base-command.js';
import { stackDown, stackStatus, stackUp } from '../local-stack.js';

export class UpCommand extends BaseCommand {
  static override paths = [['up']];
  static override usage = Command.Usage({
    category: 'Local stack',
    description: 'Start the whole stack on this machine for a first try',
    details: `Starts Redis (unless REDIS_URL is set), uses the local Docker engine (or starts one under the state folder), builds the python image if missing, and runs the manager (embedded PGlite unless DATABASE_URL is set) and one agent. Prints the endpoint and the admin keys and writes them to .bai/env, which the CLI reads.`,
    examples: [
      ['Start', '$0 up'],
      ['Then', `$0 run -c 'print("hello")' python`],
    ],
  });

  async run(): Promise<void> {
    const stateDir = stateDirOf(this.context.env);
    const st = await stackUp(stateDir, this.context.env, (s) => this.output.line(this.output.dim(s)));
    this.output.line(`bai is up at ${st.endpoint}`);
    this.output.line(`  access key: ${st.accessKey}`);
    this.output.line(`  secret key: ${st.secretKey}`);
    this.output.line(`Keys are in ${join(stateDir, 'env')} (the CLI reads them); stop with: bai down`);
  }
}

export class DownCommand extends BaseCommand {
  static override paths = [['down']];
  static override usage = Command.Usage({
    category: 'Local stack',
    description: 'Stop what bai up started',
    examples: [['Stop', '$0 down']],
  });

  async run(): Promise<void> {
    const ok = await stackDown(stateDirOf(this.context.env), (s) => this.output.line(s));
    if (!ok) this.output.line('Nothing to stop.');
  }
}

export class StatusCommand extends BaseCommand {
  static override paths = [['status']];
  static override usage = Command.Usage({
    category: 'Local stack',
    description: 'Show what bai up started and whether it still runs',
    examples: [
      ['Show', '$0 status'],
      ['As JSON', '$0 status --json'],
    ],
  });

  json = Option.Boolean('--json', false);

  async run(): Promise<number> {
    const st = stackStatus(stateDirOf(this.context.env));
    if (this.json) {
      this.output.json(st ?? { endpoint: null, pids: [], alive: {} });
    } else if (!st || st.pids.length === 0) {
      this.output.line('bai is not up here (bai up starts it).');
    } else {
      this.output.line(`endpoint ${st.endpoint}`);
      this.output.table(
        ['PROCESS', 'PID', 'STATE'],
        st.pids.map((p) => [
          p.name,
          String(p.pid),
          st.alive[p.name] ? this.output.green('running') : this.output.red('stopped'),
        ]),
      );
    }
    return st && st.pids.length > 0 && Object.values(st.alive).every(Boolean) ? 0 : 1;
  }
}
