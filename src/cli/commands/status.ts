import { Command, Option } from 'clipanion';
import { stateDirOf } from '../../config/config.js';
import { envFileOf } from '../../config/env-file.js';
import { BaseCommand } from '../base-command.js';
import { formatUptime, stackStatus, type PartStatus } from '../stack-status.js';

export class StatusCommand extends BaseCommand {
  static override paths = [['status']];
  static override usage = Command.Usage({
    category: 'Local stack',
    description: 'Show each part of the local stack and whether it answers',
    details: `Asks each part: the manager on its endpoint, the agent through the manager (listed ALIVE), the database through the manager's API, Redis with PING, the Docker engine on its socket. Shows pid and uptime of what bai up started, and where each part is. Exits 0 only when every part answers.`,
    examples: [
      ['Show', '$0 status'],
      ['As JSON', '$0 status --json'],
    ],
  });

  json = Option.Boolean('--json', false, {
    description:
      'Print {"stateDir", "urls": {"manager", "console"}, "up", "parts": [{"name", "pid", "address", "answers", "uptimeSeconds", "startedByBai", "log"}]}',
  });

  async run(): Promise<number> {
    const st = await stackStatus(stateDirOf(this.context.env));
    if (this.json) {
      this.output.json(st ?? { stateDir: stateDirOf(this.context.env), urls: {}, up: false, parts: [] });
    } else if (!st) {
      this.output.line('bai is not up here (bai up starts it).');
    } else {
      this.output.table(
        ['PART', 'STATE', 'PID', 'UPTIME', 'ADDRESS'],
        st.parts.map((p) => [
          p.name,
          p.answers ? this.output.green('answers') : this.output.red('down'),
          p.pid === null ? '-' : String(p.pid),
          p.uptimeSeconds === null ? '-' : formatUptime(p.uptimeSeconds),
          p.startedByBai || !p.address ? p.address : `${p.address} (not started by bai)`,
        ]),
      );
      this.output.line(`manager URL: ${st.urls.manager}`);
      this.output.line(
        `console URL: ${st.urls.console} (log in with BACKEND_ACCESS_KEY/SECRET_KEY of ${envFileOf(st.stateDir)})`,
      );
      const where = (name: PartStatus['name']) => st.parts.find((p) => p.name === name)?.address || '-';
      this.output.line(`database: ${where('database')}`);
      this.output.line(`redis: ${where('redis')}`);
      this.output.line(`logs: bai stack logs manager|agent|redis|docker [-f]`);
    }
    return st?.up ? 0 : 1;
  }
}
