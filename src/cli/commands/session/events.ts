import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { BaseCommand, EXIT, WaitTimeout } from '../../base-command.js';
import { followSessionEvents } from '../../event-stream.js';
import type { SessionInfo } from '../../session-wait.js';

export class SessionEventsCommand extends BaseCommand {
  static override paths = [['session', 'events'], ['events']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: "Print a session's lifecycle events as they happen",
    details: `With --wait batch_session_result, exits when the batch session ends: 0 on success, 1 on failure (Backend.AI's contract); --exit-code passes the job's own exit code instead.`,
    examples: [
      ['Follow', '$0 session events job-1'],
      ['Wait for the result in a script', '$0 session events --wait batch_session_result job-1'],
    ],
  });

  ref = Option.String({ name: 'SESSION' });
  scope = Option.String('--scope', 'session', { validator: t.isEnum(['session', 'kernel', '*']) });
  wait = Option.String('--wait', {
    description: 'Exit when this event happens (batch_session_result, or an event name)',
  });
  exitCode = Option.Boolean('--exit-code', false, {
    description: "With --wait: exit with the job's exit code",
  });
  timeout = Option.String('--timeout', { description: 'Seconds to wait at most (exit 3)' });
  owner = Option.String('-o,--owner', { description: 'Owner access key (admins)' });
  json = Option.Boolean('--json', false, { description: 'One JSON object a line' });

  async run(): Promise<number> {
    const client = this.client();
    const info = await client.request<SessionInfo>(
      'GET',
      `/session/${encodeURIComponent(this.ref)}`,
      undefined,
      { owner_access_key: this.owner },
    );
    const ctl = new AbortController();
    let timedOut = false;
    const timer = this.timeout
      ? setTimeout(
          () => {
            timedOut = true;
            ctl.abort();
          },
          Number(this.timeout) * 1000,
        )
      : null;
    let outcome: number | null = null;
    const target =
      this.wait === 'batch_session_result'
        ? ['session_success', 'session_failure', 'session_cancelled']
        : this.wait
          ? [this.wait]
          : [];
    await followSessionEvents(
      client,
      info.sessionId,
      this.scope,
      (ev) => {
        if (this.json) this.output.line(JSON.stringify({ event: ev.event, id: ev.id, ...ev.data }));
        else
          this.output.line(
            `${ev.event}  ${String(ev.data.reason ?? '')}${ev.data.exitCode !== null && ev.data.exitCode !== undefined ? `  exit=${ev.data.exitCode}` : ''}`,
          );
        const code = typeof ev.data.exitCode === 'number' ? ev.data.exitCode : null;
        if (target.includes(ev.event)) {
          if (this.exitCode && code !== null) outcome = code >= 0 && code < 256 ? code : 1;
          else
            outcome =
              ev.event === 'session_failure' || ev.event === 'session_cancelled' ? EXIT.failure : EXIT.ok;
          return true;
        }
        if (target.length === 0 && (ev.event === 'session_terminated' || ev.event === 'session_cancelled')) {
          outcome = EXIT.ok;
          return true;
        }
        return false;
      },
      ctl.signal,
    );
    if (timer) clearTimeout(timer);
    if (timedOut) throw new WaitTimeout(`no ${this.wait ?? 'final'} event in ${this.timeout} s.`);
    return outcome ?? EXIT.ok;
  }
}
