import { Command, Option } from 'clipanion';
import { shellQuote } from '../../domain/container-plan.js';
import { EXIT, WaitTimeout } from '../base-command.js';
import { SessionOptionsCommand } from '../session-options.js';
import { waitForEnd } from '../session-wait.js';

export class RunCommand extends SessionOptionsCommand {
  static override paths = [['run']];
  static override usage = Command.Usage({
    description: 'Run code in a new batch session, print its output, and exit with its exit code',
    details: `Creates (or reuses, with -t) a batch session that runs CODE with the image's interpreter, streams its output, and exits with the code's own exit code — unlike Backend.AI's CLI, which exits 0 even when the code failed.`,
    examples: [
      ['Say hello', `$0 run -c 'print("hello")' python`],
      ['Fail the shell when the code fails', `$0 run -c 'import sys; sys.exit(3)' python || echo "exit $?"`],
      [
        'Run at 9 in the morning with 2 CPUs',
        `$0 run --starts-at 2026-12-01T09:00:00+09:00 -r cpu=2 -c 'print(1)' python`,
      ],
    ],
  });

  image = Option.String({ name: 'IMAGE' });
  code = Option.String('-c,--code', {
    required: true,
    description: 'Code to run with the image interpreter',
  });
  rm = Option.Boolean('--rm', false, {
    description: 'Destroy the session when done (a no-op for batch sessions that ended)',
  });
  timeout = Option.String('--wait-timeout', {
    description: 'Give up waiting after this many seconds (exit 3)',
  });
  json = Option.Boolean('--json', false, {
    description: 'Print the final session info as JSON instead of the output',
  });

  async run(): Promise<number> {
    const client = this.client();
    const img = await client.request<{ labels: Record<string, string> }>(
      'GET',
      '/images/resolve',
      undefined,
      { ref: this.image },
    );
    const runtime = img.labels['ai.backend.runtime-path'] ?? 'python3';
    const body = this.createBody(this.image, `${runtime} -c ${shellQuote(this.code)}`, 'batch');
    body.enqueueOnly = true;
    const created = await client.request<{ sessionId: string }>('POST', '/session', body);
    const info = await waitForEnd(client, created.sessionId, this.output, {
      streamLogs: !this.json,
      timeoutMs: this.timeout ? Number(this.timeout) * 1000 : undefined,
    });
    if (!info) throw new WaitTimeout(`session ${created.sessionId} did not end in ${this.timeout} s.`);
    if (this.rm) await client.request('DELETE', `/session/${created.sessionId}`).catch(() => {});
    if (this.json) this.output.json(info);
    if (info.status === 'CANCELLED' || (info.exitCode === null && info.result !== 'SUCCESS')) {
      this.context.stderr.write(
        `Session ${info.sessionName} ended ${info.status} (${info.statusInfo ?? 'no reason'}).\n`,
      );
      const err = (info.statusData as { error?: string }).error;
      if (err) this.context.stderr.write(`${err}\n`);
      return EXIT.failure;
    }
    if (info.statusInfo === 'task-timeout') this.context.stderr.write('The batch timeout was reached.\n');
    const code = info.exitCode ?? (info.result === 'SUCCESS' ? 0 : 1);
    return code < 0 || code > 255 ? EXIT.failure : code;
  }
}
