import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../base-command.js';
import { relativeTime } from '../../output.js';
import type { AttemptWire, SessionWire } from '../../../domain/session-wire.js';
import { arrayRows, printChildren } from '../../array-info.js';

export class SessionInfoCommand extends BaseCommand {
  static override paths = [['session', 'info']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'Show a session: status, reason, result, exit code, its ended attempts',
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
    const deps =
      info.dependencyConditions ?? info.dependencies?.map((id) => ({ sessionId: id, condition: 'afterok' }));
    if (Array.isArray(deps) && deps.length > 0)
      rows.push(['Depends on', deps.map((d) => `${d.sessionId} (${d.condition})`).join(', ')]);
    if (info.startDeadline) rows.push(['Start deadline', `${info.startDeadline} s`]);
    if (info.tag) rows.push(['Tag', String(info.tag)]);
    if (info.scheduleName)
      rows.push(['Schedule', `${info.scheduleName} (instant ${info.scheduledFor ?? '-'})`]);
    rows.push(...arrayRows(info, o));
    const w = Math.max(...rows.map(([k]) => k.length));
    for (const [k, v] of rows) o.line(`${k.padEnd(w)}  ${v}`);
    if (Object.keys(info.statusData ?? {}).length > 0)
      o.line(`${'Detail'.padEnd(w)}  ${JSON.stringify(info.statusData)}`);
    if (Array.isArray(info.attempts) && info.attempts.length > 0) {
      o.line('Attempts');
      for (const line of attemptLines(info.attempts)) o.line(`  ${line}`);
    }
    printChildren(info, o, this.ref);
  }
}

/** One aligned line per ended attempt: number, result, exit code, reason, agent, start → end. */
export function attemptLines(attempts: AttemptWire[]): string[] {
  const cells = attempts.map((a) => [
    `#${a.attempt}`,
    a.result,
    a.exitCode === null ? 'exit -' : `exit ${a.exitCode}`,
    a.reason ?? '-',
    a.agentId ?? '-',
    `${a.startedAt ?? '-'} → ${a.endedAt}`,
  ]);
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((c) => c[i]!.length)));
  return cells.map((c) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  '));
}

function when(iso: unknown): string {
  return typeof iso === 'string' ? `${iso} (${relativeTime(iso)})` : '-';
}
