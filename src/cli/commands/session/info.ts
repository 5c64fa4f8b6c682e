import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { relativeTime } from '../../output.js';
import { arrayRows, printChildren } from '../../array-info.js';
import type { SessionWire } from '../../../domain/session-wire.js';

export class SessionInfoCommand extends BaseCommand {
  static override paths = [['session', 'info']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Show a session: status, reason, result, exit code, kernels',
    examples: [
      ['By name', '$0 session info job-1'],
      ['As JSON', '$0 session info job-1 --json'],
      ['An array: counts and the children 100 to 199', '$0 session info sweep --children-offset 100'],
    ],
  });

  ref = Option.String({ name: 'SESSION' });
  owner = Option.String('-o,--owner', { description: 'Owner access key (admins)' });
  json = Option.Boolean('--json', false, { description: 'Print the session info document' });
  childrenLimit = Option.String('--children-limit', {
    description: 'An array: children per page (default 100)',
  });
  childrenOffset = Option.String('--children-offset', { description: 'An array: children to skip' });

  async run(): Promise<void> {
    const info = await this.client().request<SessionWire>(
      'GET',
      `/session/${encodeURIComponent(this.ref)}`,
      undefined,
      {
        owner_access_key: this.owner,
        children_limit: this.childrenLimit,
        children_offset: this.childrenOffset,
      },
    );
    if (this.json) return this.output.json(info);
    const o = this.output;
    const rows: [string, string][] = [
      ['Session', `${info.sessionName} (${info.sessionId})`],
      ['Type', String(info.type)],
      ['Image', String(info.image)],
      ['Status', `${o.status(info.status)}${info.statusInfo ? ` (${info.statusInfo})` : ''}`],
      ['Result', o.status(info.result)],
      ['Exit code', info.exitCode === null ? '-' : String(info.exitCode)],
      ['Created', when(info.creationTime)],
      ['Starts at', when(info.startsAt)],
      ['Started', when(info.startedAt)],
      ['Ended', when(info.terminationTime)],
      ['Agent', String(info.agentId ?? '-')],
      ['Attempt', String(info.attempt)],
    ];
    if (Array.isArray(info.dependencies) && info.dependencies.length > 0)
      rows.push(['Depends on', info.dependencies.join(', ')]);
    if (info.tag) rows.push(['Tag', String(info.tag)]);
    rows.push(...arrayRows(info, o));
    const w = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) o.line(`${k.padEnd(w)}  ${v}`);
    if (Object.keys(info.statusData ?? {}).length > 0)
      o.line(`${'Detail'.padEnd(w)}  ${JSON.stringify(info.statusData)}`);
    printChildren(info, o, this.ref);
  }
}

function when(iso: unknown): string {
  return typeof iso === 'string' ? `${iso} (${relativeTime(iso)})` : '-';
}
