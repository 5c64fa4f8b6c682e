import { Command, Option, UsageError } from 'clipanion';
import type { SessionListWire } from '../../domain/session-wire.js';
import { parseRelativeSeconds } from '../../domain/starts-at.js';
import { LIVE_STATUSES } from '../../domain/status.js';
import { BaseCommand, InvalidArgument } from '../base-command.js';
import { relativeTime } from '../output.js';

const LIVE = LIVE_STATUSES.join(',');

type SessionListItem = SessionListWire['items'][number];

/** `--since 1h` (that long ago) or an ISO-8601 time, as the ISO time the API takes. */
function timeArg(value: string | undefined, flag: string, now = Date.now()): string | undefined {
  if (value === undefined) return undefined;
  const secs = parseRelativeSeconds(value);
  if (secs !== null) return new Date(now - Math.abs(secs) * 1000).toISOString();
  const d = new Date(value);
  if (Number.isNaN(d.getTime()))
    throw new InvalidArgument(`${flag} takes a duration (30m, 2h, 1d) or an ISO-8601 time (got "${value}").`);
  return d.toISOString();
}

/**
 * The statuses `ps` asks for, as Backend.AI's `ps` chooses them: live ones by default,
 * `--running` CREATING and RUNNING, `--dead` TERMINATED and CANCELLED, `-a` all (undefined),
 * `--status` its own list. Two of these at once is a usage error, not a silent precedence.
 */
export function psStatuses(f: {
  all?: boolean;
  status?: string;
  dead?: boolean;
  running?: boolean;
}): string | undefined {
  const given = [
    f.all && '-a',
    f.status !== undefined && '--status',
    f.dead && '--dead',
    f.running && '--running',
  ];
  const set = given.filter((x): x is string => typeof x === 'string');
  if (set.length > 1) throw new UsageError(`${set.join(' and ')} choose statuses each: give one.`);
  if (f.dead) return 'TERMINATED,CANCELLED';
  if (f.running) return 'CREATING,RUNNING';
  if (f.status !== undefined) return f.status;
  return f.all ? undefined : LIVE;
}

export class PsCommand extends BaseCommand {
  static override paths = [['ps'], ['session', 'list'], ['session', 'ls']];
  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'List sessions: the live ones, or all with -a',
    details: `Newest first. Filters combine: --status (comma-separated), --type, --tag, --name, --since and --until (a duration ago, or an ISO-8601 time). Admins see other keypairs' sessions with --owner or --all-owners.`,
    examples: [
      ['Live sessions', '$0 ps'],
      ['Everything of the last day', '$0 ps -a --since 1d'],
      ['Failed batch jobs tagged nightly', '$0 ps --status TERMINATED --type batch --tag nightly --json'],
      ['Every keypair (admins)', '$0 ps -a --all-owners'],
      ['Names of the ended sessions, one a line', '$0 ps --dead --name-only'],
      ['More columns', '$0 ps --running --detail'],
      ['The runs of a schedule', '$0 ps -a --schedule nightly'],
    ],
  });

  all = Option.Boolean('-a,--all', false, { description: 'Include ended sessions' });
  status = Option.String('-s,--status', { description: 'Comma-separated statuses (implies -a)' });
  dead = Option.Boolean('--dead', false, { description: 'Only ended sessions (TERMINATED, CANCELLED)' });
  running = Option.Boolean('--running', false, { description: 'Only CREATING and RUNNING sessions' });
  nameOnly = Option.Boolean('--name-only', false, { description: 'Print the names only, one a line' });
  detail = Option.Boolean('--detail', false, { description: 'More columns' });
  type = Option.String('--type', { description: 'batch or interactive' });
  tag = Option.String('--tag', { description: 'Sessions with this tag' });
  name = Option.String('--name', { description: 'Sessions with this name' });
  schedule = Option.String('--schedule', { description: 'Sessions started by this schedule' });
  since = Option.String('--since', { description: 'Created after: a duration ago (2h) or an ISO time' });
  until = Option.String('--until', { description: 'Created before: a duration ago (2h) or an ISO time' });
  owner = Option.String('-o,--owner', { description: "One keypair's sessions (admins)" });
  allOwners = Option.Boolean('-A,--all-owners', false, { description: 'All keypairs (admins)' });
  limit = Option.String('-n,--limit', '50', { description: 'At most this many (default 50)' });
  json = Option.Boolean('--json', false, { description: 'Print {"items": [...], "total": N}' });

  async run(): Promise<void> {
    if (!/^\d+$/.test(this.limit)) throw new InvalidArgument(`--limit takes a number (got "${this.limit}").`);
    const statuses = psStatuses(this);
    const r = await this.client().request<SessionListWire>('GET', '/sessions', undefined, {
      status: statuses,
      type: this.type,
      tag: this.tag,
      name: this.name,
      scheduleName: this.schedule,
      created_after: timeArg(this.since, '--since'),
      created_before: timeArg(this.until, '--until'),
      owner_access_key: this.owner,
      all: this.allOwners ? 'true' : undefined,
      limit: this.limit,
    });
    if (this.nameOnly) {
      const names = r.items.map((s) => s.sessionName);
      if (this.json) return this.output.json({ names, total: r.total });
      for (const n of names) this.output.line(n);
      return;
    }
    if (this.json) return this.output.json({ items: r.items, total: r.total });
    if (r.items.length === 0) {
      this.output.line(statuses === LIVE ? 'No live sessions (bai ps -a shows ended ones).' : 'No sessions.');
      return;
    }
    // [header, cell, shown only with --detail]: the short table is the long one's subset.
    const columns: [string, (s: SessionListItem) => string, boolean?][] = [
      ['ID', (s) => (this.detail ? s.sessionId : s.sessionId.slice(0, 8))],
      ['NAME', (s) => s.sessionName],
      ['OWNER', (s) => s.ownerAccessKey, true],
      ['TYPE', (s) => s.type],
      ['STATUS', (s) => this.output.status(s.status)],
      ['REASON', (s) => s.statusInfo ?? ''],
      ['RESULT', (s) => s.result, true],
      ['EXIT', (s) => (s.exitCode === null ? '-' : String(s.exitCode))],
      ['PRIORITY', (s) => String(s.priority), true],
      ['SGROUP', (s) => s.scalingGroup, true],
      ['TAG', (s) => s.tag ?? '-', true],
      ['CREATED', (s) => relativeTime(s.createdAt)],
      ['ENDED', (s) => (s.terminatedAt ? relativeTime(s.terminatedAt) : '-'), true],
      ['IMAGE', (s) => s.image],
    ];
    // The schedule of origin, when a session listed has one (a column of dashes otherwise).
    if (r.items.some((s) => s.scheduleName)) columns.splice(2, 0, ['SCHEDULE', (s) => s.scheduleName ?? '-']);
    const shown = columns.filter(([, , detailOnly]) => this.detail || !detailOnly);
    this.output.table(
      shown.map(([header]) => header),
      r.items.map((s) => shown.map(([, cell]) => cell(s))),
    );
    if (r.total > r.items.length) this.output.line(`(${r.items.length} of ${r.total}; --limit shows more)`);
  }
}
