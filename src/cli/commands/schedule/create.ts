import { Command, Option, UsageError } from 'clipanion';
import { InvalidArgument } from '../../base-command.js';
import { checkedBySchedule, countArg, policyArg, scheduleInfoLines } from '../../schedule-view.js';
import type { ScheduleWire } from '../../../domain/schedule-wire.js';
import { SessionBodyCommand } from '../../session-options.js';

export class ScheduleCreateCommand extends SessionBodyCommand {
  static override paths = [['schedule', 'create']];
  static override usage = Command.Usage({
    category: 'Schedules',
    description: 'Create a schedule: a batch session at each instant of a cron expression',
    details: `The manager starts a batch session running -c CMD in IMAGE at every instant of --cron (5 fields, or 6 with seconds first; @hourly, @daily…) in --tz (an IANA zone, default UTC). The session flags are those of "session create"; each run is named <schedule>-<unix seconds of its instant>. --policy: allow (default) runs overlap, forbid skips an instant while the previous run is live, replace cancels it. A run that cannot start within --starting-deadline of its instant is recorded as missed.`,
    examples: [
      [
        'Every night at 2:30 in Berlin',
        `$0 schedule create nightly --cron '30 2 * * *' --tz Europe/Berlin -c 'python3 report.py' python`,
      ],
      [
        'Every 10 minutes, never two at once',
        `$0 schedule create poll --cron '*/10 * * * *' --policy forbid -c 'make poll' python`,
      ],
      [
        'Hourly from a template, created suspended',
        `$0 schedule create sync --cron @hourly --template sync-job --suspend`,
      ],
    ],
  });

  scheduleName = Option.String({ name: 'NAME' });
  image = Option.String({ name: 'IMAGE', required: false });
  cron = Option.String('--cron', {
    required: true,
    description: 'Cron expression: 5 fields, 6 with seconds first, or @hourly, @daily, @weekly…',
  });
  tz = Option.String('--tz,--timezone', { description: 'IANA time zone of the expression (default UTC)' });
  policy = Option.String('--policy', {
    description: 'allow (default), forbid (skip while a run is live) or replace (cancel it)',
  });
  startingDeadline = Option.String('--starting-deadline', {
    description: 'A run not started this long after its instant is missed, not run late (30s, 5m)',
  });
  suspend = Option.Boolean('--suspend', false, { description: 'Create it suspended (resume starts it)' });
  successfulHistory = Option.String('--successful-history', {
    description: 'Succeeded runs kept in its history (default 3)',
  });
  failedHistory = Option.String('--failed-history', {
    description: 'Failed runs kept in its history (default 1)',
  });
  template = Option.String('--template', {
    description: 'Run a session template (id or name); IMAGE and the session flags override its fields',
  });
  startupCommand = Option.String('-c,--startup-command', { description: 'Command the batch session runs' });
  json = Option.Boolean('--json', false, { description: 'Print the schedule as JSON' });

  /** The `POST /schedules` body of the flags (a bad flag throws before any request). */
  requestBody(): Record<string, unknown> {
    const deadlineMs = this.timeoutMs(this.startingDeadline, '--starting-deadline');
    const body: Record<string, unknown> = {
      name: this.scheduleName,
      cron: this.cron,
      timezone: this.tz,
      concurrencyPolicy: policyArg(this.policy),
      startingDeadlineSeconds:
        deadlineMs === undefined ? undefined : Math.max(1, Math.round(deadlineMs / 1000)),
      suspend: this.suspend || undefined,
      successfulHistoryLimit: countArg(this.successfulHistory, '--successful-history'),
      failedHistoryLimit: countArg(this.failedHistory, '--failed-history'),
    };
    // The owner (-o, admins) is the schedule's, sent as the request's owner_access_key.
    const { owner_access_key: _owner, ...session } = this.sessionBody(
      this.image,
      this.startupCommand,
      'batch',
    );
    if (this.template !== undefined) {
      if (this.template === '') throw new InvalidArgument('--template takes a template id or name.');
      body.template = this.template;
      body.overrides = given(session);
    } else {
      if (!this.image) throw new UsageError('Give the IMAGE the session runs (or --template).');
      if (!this.startupCommand) throw new UsageError('A scheduled batch session needs -c/--startup-command.');
      body.session = session;
    }
    return body;
  }

  async run(): Promise<void> {
    const body = this.requestBody();
    const s = await checkedBySchedule(
      this.client().request<ScheduleWire>('POST', '/schedules', body, { owner_access_key: this.owner }),
    );
    if (this.json) return this.output.json(s);
    this.output.line(`Schedule ${s.name} created${s.suspend ? ' (suspended)' : ''}.`);
    for (const line of scheduleInfoLines(s, this.output)) this.output.line(line);
  }
}

type Body = Record<string, unknown>;

/** Only the fields a flag gave (a template keeps the rest): no undefined, no empty map. */
function given(body: Body): Body {
  const out: Body = {};
  for (const [k, v] of Object.entries(body)) {
    if (v === undefined) continue;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const inner = given(v as Body);
      if (Object.keys(inner).length > 0) out[k] = inner;
    } else if (!(Array.isArray(v) && v.length === 0)) out[k] = v;
  }
  return out;
}
