import { Command, Option } from 'clipanion';
import { BaseCommand, WaitTimeout } from '../../base-command.js';
import { isEventScope } from '../../option-validators.js';
import { exitCodeOf, waitForEnd } from '../../session-wait.js';
import type { SessionWire } from '../../../domain/session-wire.js';

export class SessionWatchCommand extends BaseCommand {
  static override paths = [['session', 'watch'], ['watch']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: "Wait for a session to end, showing its progress; exit with the job's exit code",
    details: `Exits 0 when the job succeeded, with the job's own exit code when it failed, 3 when its batch timeout killed it or when --wait-timeout runs out, 1 when it never ran.`,
    examples: [
      ['In CI', '$0 session watch job-1 --wait-timeout 1h'],
      ['Final state as JSON', '$0 session watch job-1 --json'],
    ],
  });

  ref = Option.String({ name: 'SESSION' });
  waitTimeout = Option.String('--wait-timeout', {
    description: 'Give up after this long (seconds, 30s, 5m, 2h): exit 3',
  });
  timeout = Option.String('--timeout', { description: 'Old name of --wait-timeout (warns)' });
  owner = Option.String('-o,--owner', { description: 'Owner access key (admins)' });
  scope = Option.String('--scope', 'session,kernel', {
    validator: isEventScope,
    description:
      "Accepted as Backend.AI's CLI takes it (session, kernel, *, session,kernel); watch shows the session's progress whatever it is",
  });
  json = Option.Boolean('--json', false, { description: 'Print the final session info as JSON' });

  async run(): Promise<number> {
    const client = this.client();
    const limit = this.waitLimit(this.waitTimeout, {
      value: this.timeout,
      warning:
        '--timeout is the old name of --wait-timeout here; it goes in a later release (on session create, --timeout is the batch timeout).',
    });
    const query = { owner_access_key: this.owner };
    const first = await client.request<SessionWire>(
      'GET',
      `/session/${encodeURIComponent(this.ref)}`,
      undefined,
      query,
    );
    const info = await waitForEnd(client, first.sessionId, this.output, { timeoutMs: limit.ms, query });
    if (!info) throw new WaitTimeout(`session ${first.sessionName} did not end in ${limit.text}.`);
    if (this.json) this.output.json(info);
    else
      this.output.line(
        `${info.sessionName} ${this.output.status(info.status)} (${info.statusInfo ?? '-'}) result=${this.output.status(info.result)} exit=${info.exitCode ?? '-'}`,
      );
    return exitCodeOf(info);
  }
}
