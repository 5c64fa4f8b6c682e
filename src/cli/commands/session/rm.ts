import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';

export class SessionDestroyCommand extends BaseCommand {
  static override paths = [
    ['session', 'rm'],
    ['session', 'destroy'],
    ['session', 'kill'],
    ['rm'],
    ['destroy'],
    ['kill'],
  ];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Cancel a pending session or terminate a running one',
    examples: [
      ['Terminate', '$0 session rm job-1'],
      ['Kill at once', '$0 session rm -f job-1'],
      ['With every session that depends on it', '$0 session rm -r job-1'],
    ],
  });

  refs = Option.Rest({ name: 'SESSION', required: 1 });
  forced = Option.Boolean('-f,--forced', false, { description: 'SIGKILL without a grace period' });
  recursive = Option.Boolean('-r,--recursive', false, {
    description: 'Also cancel every session that depends on it, transitively',
  });
  owner = Option.String('-o,--owner', { description: 'Owner access key (admins)' });
  json = Option.Boolean('--json', false, { description: 'Print [{"session", "status", ...}]' });

  async run(): Promise<number> {
    const client = this.client();
    const results: unknown[] = [];
    let failed = 0;
    for (const ref of this.refs) {
      try {
        const r = await client.request<{
          status: string;
          statusInfo: string | null;
          dependents?: { sessionName: string; status: string }[];
        }>('DELETE', `/session/${encodeURIComponent(ref)}`, undefined, {
          forced: this.forced ? 'true' : undefined,
          recursive: this.recursive ? 'true' : undefined,
          owner_access_key: this.owner,
        });
        results.push({ session: ref, ...r });
        if (!this.json) {
          for (const d of r.dependents ?? [])
            this.output.line(`${d.sessionName}: ${this.output.status(d.status)} (depends on ${ref})`);
          this.output.line(`${ref}: ${this.output.status(r.status)}`);
        }
      } catch (err) {
        failed += 1;
        this.fail(err);
      }
    }
    if (this.json) this.output.json(results);
    return failed > 0 ? 1 : 0;
  }
}
