import { Command, Option } from 'clipanion';
import { BaseCommand, EXIT, WaitTimeout } from '../../base-command.js';
import { followSessionEvents } from '../../event-stream.js';
import { exitCodeOf } from '../../session-wait.js';
import { isEventScope } from '../../option-validators.js';
import type { SessionWire } from '../../../domain/session-wire.js';

/** The last event of a session: a batch session's result event comes before session_terminated. */
const END_EVENTS = ['session_terminated', 'session_cancelled'];
const RESULT_EVENTS = ['session_success', 'session_failure', ...END_EVENTS];

export class SessionEventsCommand extends BaseCommand {
  static override paths = [['session', 'events'], ['events']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: "Print a session's lifecycle events as they happen",
    details: `Replays the session's past events, then follows new ones until the session ends (or the awaited event happens).

Events come in the order they were recorded; a batch session's result (session_success or session_failure) comes before session_terminated, as in Backend.AI. --scope takes session, kernel, * (both) or a comma list (session,kernel), as Backend.AI's CLI does.

With --wait batch_session_result it exits at the result event, with the job's own exit code: 0 on success, the code on failure (Backend.AI's CLI exits 1 for any failure; a job that exits 1 still gives 1), 3 when the batch timeout killed it, 1 when it never ran. With --wait EVENT it exits 0 when EVENT happens and 1 when the session ends without it. --wait-timeout gives up with exit 3.

--json prints one JSON document when it ends; --ndjson prints one JSON object a line as events come.`,
    examples: [
      ['Follow', '$0 session events job-1'],
      [
        'Wait for the result in a script',
        '$0 session events --wait batch_session_result --wait-timeout 2h job-1',
      ],
      ['Wait until it runs', '$0 session events --wait session_started job-1'],
      ['Kernel events too', "$0 session events --scope '*' job-1"],
    ],
  });

  ref = Option.String({ name: 'SESSION' });
  scope = Option.String('--scope', 'session', {
    validator: isEventScope,
    description: 'session, kernel, * (both) or a comma list (session,kernel)',
  });
  wait = Option.String('--wait', {
    description: 'Exit when this event happens (batch_session_result, or an event name)',
  });
  waitTimeout = Option.String('--wait-timeout', {
    description: 'Give up after this long (seconds, 30s, 5m): exit 3',
  });
  timeout = Option.String('--timeout', { description: 'Old name of --wait-timeout (warns)' });
  owner = Option.String('-o,--owner', { description: 'Owner access key (admins)' });
  json = Option.Boolean('--json', false, { description: 'One JSON document at the end' });
  ndjson = Option.Boolean('--ndjson', false, { description: 'One JSON object a line, as events come' });

  async run(): Promise<number> {
    const client = this.client();
    const limit = this.waitLimit(this.waitTimeout, {
      value: this.timeout,
      warning:
        '--timeout is the old name of --wait-timeout here; it goes in a later release (on session create, --timeout is the batch timeout).',
    });
    const timeoutMs = limit.ms;
    const info = await client.request<SessionWire>(
      'GET',
      `/session/${encodeURIComponent(this.ref)}`,
      undefined,
      { owner_access_key: this.owner },
    );
    const ctl = new AbortController();
    let timedOut = false;
    const timer = timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          ctl.abort();
        }, timeoutMs)
      : null;
    // batch_session_result: the result event, which comes before session_terminated; a session
    // that ends without a result (UNDEFINED: never ran as a batch job) stops at its end event.
    const target =
      this.wait === 'batch_session_result'
        ? RESULT_EVENTS
        : this.wait
          ? [this.wait, ...END_EVENTS]
          : END_EVENTS;
    const isEnd = (ev: { event: string }) => target.includes(ev.event);
    const seen: Record<string, unknown>[] = [];
    let outcome: number | null = null;
    try {
      await followSessionEvents(
        client,
        info.sessionId,
        this.scope,
        (ev) => {
          const record = { event: ev.event, id: ev.id === null ? null : Number(ev.id), ...ev.data };
          seen.push(record);
          this.print(record);
          if (!isEnd(ev)) return false;
          const d = ev.data as {
            status?: string;
            result?: string;
            reason?: string;
            exitCode?: number | null;
          };
          const state = { status: d.status, result: d.result, statusInfo: d.reason, exitCode: d.exitCode };
          if (this.wait === 'batch_session_result') outcome = exitCodeOf(state);
          else if (this.wait && ev.event !== this.wait) {
            this.context.stderr.write(`${info.sessionName} ended (${ev.event}) without ${this.wait}.\n`);
            outcome = EXIT.failure;
          } else outcome = EXIT.ok;
          return true;
        },
        ctl.signal,
        this.owner,
      );
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (this.json)
      this.output.json({
        sessionId: info.sessionId,
        sessionName: info.sessionName,
        events: seen,
        timedOut,
        exitCode: timedOut ? EXIT.timeout : outcome,
      });
    if (timedOut) throw new WaitTimeout(`no ${this.wait ?? 'final'} event in ${limit.text}.`);
    return outcome ?? EXIT.ok;
  }

  private print(record: Record<string, unknown>): void {
    if (this.json) return;
    if (this.ndjson) return this.output.line(JSON.stringify(record));
    const o = this.output;
    const exit =
      record.exitCode !== null && record.exitCode !== undefined ? `  exit=${String(record.exitCode)}` : '';
    const kernel = record.kernelId ? `  kernel=${String(record.kernelId).slice(0, 8)}` : '';
    o.line(
      `${String(record.event).padEnd(20)} ${o.status(String(record.status ?? ''))}  ${String(record.reason ?? '')}${exit}${kernel}`.trimEnd(),
    );
  }
}
