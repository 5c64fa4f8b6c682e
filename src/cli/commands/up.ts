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

  json = Option.Boolean('--json', false, {
    description: 'Print {"endpoint", "accessKey", "secretKey", "pids", "envFile"} when up',
  });

  async run(): Promise<void> {
    const stateDir = stateDirOf(this.context.env);
    const say = this.json ? () => {} : (s: string) => this.output.line(this.output.dim(s));
    const st = await stackUp(stateDir, this.context.env, say);
    if (this.json) {
      this.output.json({
        endpoint: st.endpoint,
        accessKey: st.accessKey,
        secretKey: st.secretKey,
        pids: st.pids,
        dockerHost: st.dockerHost,
        envFile: join(stateDir, 'env'),
      });
      return;
    }
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

  json = Option.Boolean('--json', false, { description: 'Print {"stopped": [{"name", "pid"}]}' });

  async run(): Promise<void> {
    const stopped: { name: string; pid: number }[] = [];
    const ok = await stackDown(stateDirOf(this.context.env), (s) => {
      const m = /^stopped (\S+) \(pid (\d+)\)$/.exec(s);
      if (m) stopped.push({ name: m[1]!, pid: Number(m[2]) });
      if (!this.json) this.output.line(s);
    });
    if (this.json) this.output.json({ stopped });
    else if (!ok) this.output.line('Nothing to stop.');
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

  json = Option.Boolean('--json', false, { description: 'Print {"endpoint", "pids", "alive"}' });

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
