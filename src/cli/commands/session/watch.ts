import { Command, Option } from 'clipanion';
import { BaseCommand, EXIT, WaitTimeout } from '../../base-command.js';
import { waitForEnd, type SessionInfo } from '../../session-wait.js';

export class SessionWatchCommand extends BaseCommand {
  static override paths = [['session', 'watch'], ['watch']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: "Wait for a session to end, showing its progress; exit with the job's exit code",
    examples: [['In CI', '$0 session watch job-1 --timeout 3600']],
  });

  ref = Option.String({ name: 'SESSION' });
  timeout = Option.String('--timeout', { description: 'Seconds to wait at most (exit 3)' });
  owner = Option.String('-o,--owner', { description: 'Owner access key (admins)' });
  json = Option.Boolean('--json', false);

  async run(): Promise<number> {
    const client = this.client();
    const first = await client.request<SessionInfo>(
      'GET',
      `/session/${encodeURIComponent(this.ref)}`,
      undefined,
      { owner_access_key: this.owner },
    );
    const info = await waitForEnd(client, first.sessionId, this.output, {
      timeoutMs: this.timeout ? Number(this.timeout) * 1000 : undefined,
    });
    if (!info) throw new WaitTimeout(`session ${first.sessionName} did not end in ${this.timeout} s.`);
    if (this.json) this.output.json(info);
    else
      this.output.line(
        `${info.sessionName} ${this.output.status(info.status)} ${info.statusInfo ?? ''} result=${this.output.status(info.result)} exit=${info.exitCode ?? '-'}`,
      );
    if (info.result === 'SUCCESS') return EXIT.ok;
    const code = info.exitCode ?? 1;
    return code > 0 && code < 256 ? code : EXIT.failure;
  }
}
