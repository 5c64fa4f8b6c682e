import { Command, Option } from 'clipanion';
import { stateDirOf } from '../../config/config.js';
import { envFileOf } from '../../config/env-file.js';
import { BaseCommand } from '../base-command.js';
import { stackUp } from '../local-stack.js';

export class UpCommand extends BaseCommand {
  static override paths = [['up']];
  static override usage = Command.Usage({
    category: 'Local stack',
    description: 'Start the whole stack on this machine, or adopt what already runs',
    details: `Starts what does not run and adopts what does: Redis (unless REDIS_URL is set), the local Docker engine (or one of its own under the state folder), the python image if missing, the manager (embedded PGlite under the state folder unless DATABASE_URL is set) and one agent. A part counts as running only when its process is the one bai up started (pid and start time) and it answers. Prints each part's state, the endpoint and the admin keys, and writes them to .bai/env, which the CLI reads. The database, Redis's data and the keys stay between bai down and bai up; --fresh removes them first (see bai reset).`,
    examples: [
      ['Start', '$0 up'],
      ['Then', `$0 run -c 'print("hello")' python`],
      ['Start from nothing (removes the sessions and keys of this folder)', '$0 up --fresh'],
    ],
  });

  fresh = Option.Boolean('--fresh', false, {
    description: 'Stop the stack and remove its state (database, keys, Redis data, logs) before starting',
  });
  json = Option.Boolean('--json', false, {
    description:
      'Print {"endpoint", "accessKey", "secretKey", "alreadyUp", "parts": [{"name", "pid", "address", "action"}], "pids", "envFile"} when up',
  });

  async run(): Promise<void> {
    const stateDir = stateDirOf(this.context.env);
    const say = this.json ? () => {} : (s: string) => this.output.line(this.output.dim(s));
    const st = await stackUp(stateDir, this.context.env, say, { fresh: this.fresh });
    if (this.json) {
      this.output.json({
        endpoint: st.endpoint,
        accessKey: st.accessKey,
        secretKey: st.secretKey,
        alreadyUp: st.alreadyUp,
        parts: st.parts,
        pids: st.parts.filter((p) => p.pid !== null).map((p) => ({ name: p.name, pid: p.pid })),
        dockerHost: st.dockerHost,
        envFile: envFileOf(stateDir),
      });
      return;
    }
    this.output.line(
      st.alreadyUp ? `bai is already up at ${st.endpoint}: nothing to start` : `bai is up at ${st.endpoint}`,
    );
    this.output.line(`  access key: ${st.accessKey}`);
    // The secret is printed once, when it is made; afterwards it stays in .bai/env only.
    if (st.keysCreated) this.output.line(`  secret key: ${st.secretKey}`);
    this.output.line(`Keys are in ${envFileOf(stateDir)} (the CLI reads them); stop with: bai down`);
  }
}
