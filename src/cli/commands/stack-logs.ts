import { Command, Option, UsageError } from 'clipanion';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { stateDirOf } from '../../config/config.js';
import { sleep } from '../../stack/process-util.js';
import { BaseCommand } from '../base-command.js';
import { logFileOf } from '../local-stack.js';
import type { PartName } from '../../stack/stack-state.js';

const PARTS: Record<string, PartName> = {
  manager: 'manager',
  database: 'manager', // the embedded database runs in the manager's process
  agent: 'agent',
  redis: 'redis',
  docker: 'dockerd',
  dockerd: 'dockerd',
};

/** Reads `len` bytes of `file` from `pos`. */
function readRange(file: string, pos: number, len: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(len);
    const n = readSync(fd, buf, 0, len, pos);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

export class StackLogsCommand extends BaseCommand {
  static override paths = [['stack', 'logs']];
  static override usage = Command.Usage({
    category: 'Local stack',
    description:
      "Show the log of a part of the local stack (not a session's output: that is bai logs SESSION)",
    details: `PART is manager, agent, redis or docker (database shows the manager's log: the embedded database runs in it). The logs are files under the state folder (./.bai or BAI_STATE_DIR); Redis and Docker have one only when bai up started them.`,
    examples: [
      ["The manager's last 100 lines", '$0 stack logs manager'],
      ["Follow the agent's", '$0 stack logs agent -f'],
    ],
  });

  part = Option.String({ required: true, name: 'part' });
  follow = Option.Boolean('-f,--follow', false, {
    description: 'Keep printing what is written (until Ctrl-C)',
  });
  lines = Option.String('-n,--lines', '100', {
    description: 'How many of the last lines to print first ("all": every line)',
  });

  async run(): Promise<void> {
    const name = PARTS[this.part];
    if (!name)
      throw new UsageError(`unknown part "${this.part}": one of manager, agent, redis, docker, database`);
    if (this.lines !== 'all' && !/^\d+$/.test(this.lines))
      throw new UsageError(`--lines takes a number or "all"`);
    const stateDir = stateDirOf(this.context.env);
    const file = logFileOf(stateDir, name);
    if (!existsSync(file) && !this.follow) {
      throw new Error(`no ${this.part} log at ${file}: bai up has not started ${this.part} in ${stateDir}`);
    }
    const out = this.context.stdout;
    let pos = existsSync(file) ? statSync(file).size : 0;
    if (pos > 0) {
      const from = Math.max(0, pos - 4 * 1024 ** 2); // the last lines are in the last 4 MiB
      let text = readRange(file, from, pos - from).toString('utf8');
      if (this.lines !== 'all') {
        const want = Number(this.lines);
        const lines = text.split('\n');
        const tail = lines[lines.length - 1] === '' ? lines.slice(0, -1) : lines;
        text = want === 0 ? '' : `${tail.slice(-want).join('\n')}\n`;
      }
      out.write(text);
    }
    if (!this.follow) return;
    for (;;) {
      await sleep(200);
      const size = existsSync(file) ? statSync(file).size : 0;
      if (size < pos) pos = 0; // removed or truncated (bai reset): start again
      if (size > pos) {
        out.write(readRange(file, pos, size - pos));
        pos = size;
      }
    }
  }
}
