import { Command, Option, UsageError } from 'clipanion';
import * as t from 'typanion';
import { SessionOptionsCommand } from '../../session-options.js';

export class SessionCreateCommand extends SessionOptionsCommand {
  static override paths = [['session', 'create'], ['create'], ['start'], ['session', 'start']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Create a session (get-or-create by name)',
    details: `Submits a session and prints its id and status. Batch sessions need -c. With --wait, waits until it ends and exits with its exit code.`,
    examples: [
      ['A batch job in 5 seconds', `$0 session create --type batch --starts-at 5s -c 'echo hi' python`],
      [
        'A reservation at a fixed time',
        `$0 session create --type batch --starts-at 2026-12-01T09:00:00+09:00 -c 'python3 job.py' python`,
      ],
      [
        'A CI step that fails the pipeline on failure',
        `$0 session create --type batch --timeout 1h --wait --wait-timeout 2h -c 'make test' python`,
      ],
    ],
  });

  image = Option.String({ name: 'IMAGE' });
  type = Option.String('--type', 'interactive', {
    validator: t.isEnum(['batch', 'interactive']),
    description: 'batch or interactive',
  });
  startupCommand = Option.String('-c,--startup-command', {
    description: 'Command the main container runs (batch)',
  });
  enqueueOnly = Option.Boolean('--enqueue-only', false, { description: 'Answer at once with PENDING' });
  maxWait = Option.String('--max-wait', {
    validator: t.isNumber(),
    description: 'Seconds the server waits for RUNNING',
  });
  noReuse = Option.Boolean('--no-reuse', false, { description: 'Fail if a live session has this name' });
  wait = Option.Boolean('--wait', false, { description: 'Wait until it ends; exit with its exit code' });
  timeout = Option.String('--timeout', {
    description: 'The batch timeout, as in Backend.AI (same as --batch-timeout)',
  });
  batchTimeout = Option.String('--batch-timeout', {
    description: 'Kill the job after this long (30m, 2h, seconds)',
  });
  waitTimeout = Option.String('--wait-timeout', {
    description: 'With --wait: give up waiting after this long (exit 3)',
  });
  json = Option.Boolean('--json', false, { description: 'Print JSON' });

  protected batchTimeoutValue(): string | undefined {
    if (this.timeout !== undefined && this.batchTimeout !== undefined && this.timeout !== this.batchTimeout)
      throw new UsageError('--timeout and --batch-timeout are one option (the batch timeout): give it once.');
    return this.batchTimeout ?? this.timeout;
  }

  async run(): Promise<number> {
    const limit = this.waitLimit(this.waitTimeout, undefined, '');
    if (this.wait && this.timeout !== undefined && this.waitTimeout === undefined)
      // Once, for scripts written when --timeout was bai's wait limit here.
      this.context.stderr.write(
        'Warning: --timeout sets the batch timeout on session create (as in Backend.AI), no longer the wait limit of --wait: use --wait-timeout for that.\n',
      );
    if (this.type === 'batch' && !this.startupCommand)
      throw new UsageError('A batch session needs -c/--startup-command.');
    const body = this.createBody(this.image, this.startupCommand, this.type as 'batch' | 'interactive');
    body.enqueueOnly = this.enqueueOnly || this.wait || this.maxWait === undefined;
    if (this.maxWait !== undefined) body.maxWaitSeconds = this.maxWait;
    body.reuseIfExists = !this.noReuse;
    return this.submit('/session', body, { wait: this.wait, json: this.json, limit });
  }
}
