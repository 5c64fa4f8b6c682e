import { Command, Option, UsageError } from 'clipanion';
import * as t from 'typanion';
import { IDEMPOTENCY_KEY_OPTION, idempotencyHeaders, SessionSubmitCommand } from '../../session-options.js';

export class SessionCreateCommand extends SessionSubmitCommand {
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
        'A nightly job submitted at most once per night, however often cron or a retry runs it',
        `$0 session create --type batch --idempotency-key nightly-$(date -u +%F) -c 'python3 report.py' python`,
      ],
      [
        'A teardown step that runs however the test step ends',
        `$0 session create --type batch --depends afterany:ci-test -c 'make teardown' python`,
      ],
      [
        'A job cancelled if it cannot start within 10 minutes',
        `$0 session create --type batch --start-deadline 10m -c 'python3 job.py' python`,
      ],
      [
        'A CI step that fails the pipeline on failure',
        `$0 session create --type batch --timeout 1h --wait --wait-timeout 2h -c 'make test' python`,
      ],
      [
        'Run again (3 attempts in all) only when killed (SIGKILL/OOM 137, SIGTERM 143), waiting at most 5 minutes',
        `$0 session create --type batch --retries 3 --retry-on-exit 137,143 --retry-max-delay 5m -c 'python3 train.py' python`,
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
  idempotencyKey = Option.String('--idempotency-key', IDEMPOTENCY_KEY_OPTION);

  async run(): Promise<number> {
    if (this.wait && this.timeout !== undefined && this.waitTimeout === undefined)
      // Once, for scripts written when --timeout was bai's wait limit here.
      this.context.stderr.write(
        'Warning: --timeout sets the batch timeout on session create (as in Backend.AI), no longer the wait limit of --wait: use --wait-timeout for that.\n',
      );
    if (this.type === 'batch' && !this.startupCommand)
      throw new UsageError('A batch session needs -c/--startup-command.');
    const body = this.createBody(this.image, this.startupCommand, this.type as 'batch' | 'interactive');
    return this.submit('/session', body, idempotencyHeaders(this.idempotencyKey));
  }
}
