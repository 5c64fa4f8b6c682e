import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { JSON_OUTPUT_BYTES, OutputTail } from '../../../domain/output-tail.js';
import { waitForEnd } from '../../session-wait.js';
import type { SessionWire } from '../../../domain/session-wire.js';

export class SessionLogsCommand extends BaseCommand {
  static override paths = [['session', 'logs'], ['logs']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: "Print a session's output (stdout and stderr)",
    examples: [
      ['Print', '$0 session logs job-1'],
      ['Follow while it runs', '$0 session logs -f job-1'],
      ['One kernel of a cluster session', '$0 session logs -k 5f1c0d2e-… job-1'],
    ],
  });

  ref = Option.String({ name: 'SESSION' });
  follow = Option.Boolean('-f,--follow', false, { description: 'Keep printing until the session ends' });
  kernel = Option.String('-k,--kernel,--kernel-id', { description: 'Kernel id (default: the main kernel)' });
  owner = Option.String('-o,--owner', { description: 'Owner access key (admins)' });
  json = Option.Boolean('--json', false, { description: 'Print {"logs": "..."} (with -f: when it ends)' });

  async run(): Promise<void> {
    const client = this.client();
    const query = { kernel_id: this.kernel, owner_access_key: this.owner };
    if (this.follow) {
      const info = await client.request<SessionWire>(
        'GET',
        `/session/${encodeURIComponent(this.ref)}`,
        undefined,
        { owner_access_key: this.owner },
      );
      const logs = new OutputTail(JSON_OUTPUT_BYTES);
      let skipped = false;
      await waitForEnd(client, info.sessionId, this.output, {
        streamLogs: true,
        query,
        write: this.json ? (text) => logs.push(text) : undefined,
        note: (note) => {
          skipped = true;
          this.context.stderr.write(note);
        },
      });
      if (this.json) {
        const truncated = skipped || logs.truncated;
        this.output.json({ logs: logs.text(), ...(truncated ? { truncated: true } : {}) });
      }
      return;
    }
    const r = await client.request<{
      result: { logs: string; truncated?: boolean; totalBytes?: number | null };
    }>('GET', `/session/${encodeURIComponent(this.ref)}/logs`, undefined, query);
    if (this.json)
      return this.output.json({
        logs: r.result.logs ?? '',
        ...(r.result.truncated ? { truncated: true, totalBytes: r.result.totalBytes ?? null } : {}),
      });
    this.context.stdout.write(r.result.logs ?? '');
  }
}
