import { PassThrough } from 'node:stream';
import test from 'ava';
import { Cli, UsageError } from 'clipanion';
import { InvalidArgument } from '../../src/cli/base-command.js';
import { ScheduleCreateCommand } from '../../src/cli/commands/schedule/create.js';
import { Output } from '../../src/cli/output.js';
import { policyArg, scheduleInfoLines, scheduleListRows } from '../../src/cli/schedule-view.js';
import { instantText, runResultText, type ScheduleWire } from '../../src/domain/schedule-wire.js';

// `bai schedule …`: the request its flags make, and how a schedule reads on a terminal.

function createCommand(args: string[]): ScheduleCreateCommand {
  const cli = new Cli();
  cli.register(ScheduleCreateCommand);
  const cmd = cli.process(['schedule', 'create', ...args], Cli.defaultContext);
  if (!(cmd instanceof ScheduleCreateCommand)) throw new Error('not schedule create');
  return cmd;
}

test('schedule create: the schedule fields and the session create flags in one body', (t) => {
  const body = createCommand([
    'nightly',
    '--cron',
    '30 2 * * *',
    '--tz',
    'Europe/Berlin',
    '--policy',
    'forbid',
    '--starting-deadline',
    '2m',
    '--successful-history',
    '5',
    '--failed-history',
    '0',
    '-e',
    'A=1',
    '-r',
    'cpu=2',
    '--tag',
    'night',
    '--retries',
    '2',
    '-o',
    'AKOTHER',
    '-c',
    'python3 job.py',
    'python',
  ]).requestBody();
  t.like(body, {
    name: 'nightly',
    cron: '30 2 * * *',
    timezone: 'Europe/Berlin',
    concurrencyPolicy: 'Forbid',
    startingDeadlineSeconds: 120,
    suspend: undefined,
    successfulHistoryLimit: 5,
    failedHistoryLimit: 0,
  });
  const session = body.session as Record<string, unknown>;
  t.like(session, { image: 'python', type: 'batch', startupCommand: 'python3 job.py', tag: 'night' });
  t.deepEqual((session.config as Record<string, unknown>).environ, { A: '1' });
  t.deepEqual((session.config as Record<string, unknown>).resources, { cpu: '2' });
  t.is((session.retry as Record<string, unknown>).max_attempts, 2);
  // A schedule names and times its runs itself, as its owner (-o goes in the query).
  for (const k of ['name', 'starts_at', 'array', 'dependencies', 'owner_access_key'])
    t.false(k in session, k);
});

test('schedule create: defaults are the server’s; --suspend is sent', (t) => {
  const body = createCommand(['s1', '--cron', '@hourly', '--suspend', '-c', 'true', 'python']).requestBody();
  t.is(body.timezone, undefined);
  t.is(body.concurrencyPolicy, undefined);
  t.is(body.startingDeadlineSeconds, undefined);
  t.is(body.suspend, true);
});

test('schedule create --template: only the flags given become overrides', (t) => {
  const body = createCommand([
    's2',
    '--cron',
    '0 * * * *',
    '--template',
    'sync-job',
    '-e',
    'X=2',
  ]).requestBody();
  t.is(body.template, 'sync-job');
  t.false('session' in body);
  t.deepEqual(body.overrides, { type: 'batch', config: { environ: { X: '2' } } });
});

test('schedule create: a bad flag fails before any request', (t) => {
  t.throws(
    () =>
      createCommand(['s', '--cron', '* * * * *', '--policy', 'sometimes', '-c', 'x', 'img']).requestBody(),
    {
      instanceOf: InvalidArgument,
      message: /allow, forbid or replace/,
    },
  );
  t.throws(
    () =>
      createCommand([
        's',
        '--cron',
        '* * * * *',
        '--starting-deadline',
        'soon',
        '-c',
        'x',
        'img',
      ]).requestBody(),
    { instanceOf: InvalidArgument, message: /--starting-deadline/ },
  );
  t.throws(
    () =>
      createCommand(['s', '--cron', '* * * * *', '--failed-history', 'x', '-c', 'x', 'img']).requestBody(),
    { instanceOf: InvalidArgument },
  );
  t.throws(() => createCommand(['s', '--cron', '* * * * *', 'img']).requestBody(), {
    instanceOf: UsageError,
  });
  t.throws(() => createCommand(['s', '--cron', '* * * * *', '-c', 'x']).requestBody(), {
    instanceOf: UsageError,
  });
});

test('policies in any case as the API spells them', (t) => {
  t.is(policyArg('Allow'), 'Allow');
  t.is(policyArg('REPLACE'), 'Replace');
  t.is(policyArg(undefined), undefined);
});

test('instants show in the zone the API gave them in', (t) => {
  t.is(instantText('2026-03-29T03:00:00+02:00'), '2026-03-29 03:00:00 +02:00');
  t.is(instantText('2026-11-01T01:30:00-05:00'), '2026-11-01 01:30:00 -05:00');
  t.is(instantText('2026-03-29T01:00:00.000Z'), '2026-03-29 01:00:00 UTC');
  t.is(instantText(null), '-');
});

const run = (over: Partial<NonNullable<ScheduleWire['lastRun']>>) => ({
  scheduledFor: '2026-11-29T10:00:00.000Z',
  outcome: 'started',
  sessionId: 'a1',
  status: 'TERMINATED',
  result: 'SUCCESS',
  exitCode: 0,
  ...over,
});

test('a run reads as its result, its status while live, or what happened to the instant', (t) => {
  t.is(runResultText(run({})), 'SUCCESS exit 0');
  t.is(runResultText(run({ result: 'FAILURE', exitCode: 3 })), 'FAILURE exit 3');
  t.is(runResultText(run({ status: 'RUNNING', result: 'UNDEFINED', exitCode: null })), 'RUNNING');
  t.is(runResultText(run({ outcome: 'skipped', sessionId: null, status: null, result: null })), 'skipped');
  t.is(runResultText(run({ outcome: 'missed', sessionId: null, status: null, result: null })), 'missed');
  t.is(runResultText(null), '-');
});

const view: ScheduleWire = {
  id: 'e3b0c442-0000-4000-8000-000000000001',
  name: 'nightly',
  ownerAccessKey: 'AKIATEST',
  domain: 'default',
  cron: '0 2 * * *',
  timezone: 'Europe/Berlin',
  concurrencyPolicy: 'Forbid',
  startingDeadlineSeconds: 60,
  suspend: false,
  successfulHistoryLimit: 3,
  failedHistoryLimit: 1,
  session: { image: 'python' },
  template: null,
  nextRunAt: '2026-11-30T01:00:00.000Z',
  lastRun: run({ result: 'FAILURE', exitCode: 1 }),
  createdAt: '2026-11-29T09:00:00.000Z',
  updatedAt: '2026-11-29T09:00:00.000Z',
  nextInstants: [
    '2026-11-30T02:00:00+01:00',
    '2026-12-01T02:00:00+01:00',
    '2026-12-02T02:00:00+01:00',
    '2026-12-03T02:00:00+01:00',
    '2026-12-04T02:00:00+01:00',
  ],
  runs: [run({ result: 'FAILURE', exitCode: 1 }), run({ outcome: 'skipped', sessionId: null, status: null })],
};

test('schedule info: the five next instants in the zone, then the runs with their results', (t) => {
  const o = new Output(new PassThrough(), new PassThrough(), {});
  const lines = scheduleInfoLines(view, o, Date.parse('2026-11-29T10:00:00Z'));
  const at = lines.indexOf('Next instants (Europe/Berlin)');
  t.true(at > 0);
  t.deepEqual(lines.slice(at + 1, at + 6), [
    '  2026-11-30 02:00:00 +01:00',
    '  2026-12-01 02:00:00 +01:00',
    '  2026-12-02 02:00:00 +01:00',
    '  2026-12-03 02:00:00 +01:00',
    '  2026-12-04 02:00:00 +01:00',
  ]);
  t.is(lines[at + 6], 'Runs');
  t.regex(lines[at + 7]!, /^ {2}2026-11-29 10:00:00 UTC +started +a1 +FAILURE exit 1$/);
  t.regex(lines[at + 8]!, /^ {2}2026-11-29 10:00:00 UTC +skipped +- +skipped$/);
  t.true(lines.some((l) => /^Policy +Forbid$/.test(l)));
});

test('schedule list: one row a schedule with its next instant, last result and state', (t) => {
  const rows = scheduleListRows(
    [view, { ...view, name: 'off', suspend: true, nextRunAt: null, lastRun: null }],
    Date.parse('2026-11-29T10:00:00Z'),
  );
  t.deepEqual(rows[0], [
    'nightly',
    '0 2 * * *',
    'Europe/Berlin',
    'Forbid',
    '2026-11-30 01:00:00 UTC (in 15 h)',
    'FAILURE exit 1',
    'active',
  ]);
  t.deepEqual(rows[1]!.slice(4), ['-', '-', 'suspended']);
});
