import test from 'ava';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { SessionWire } from '../../src/domain/session-wire.js';
import type { ScheduleTriggerWire, ScheduleWire } from '../../src/domain/schedule-wire.js';
import { bai } from '../helpers/cli.js';
import { keyOf, strictSamples } from '../helpers/prom-text.js';
import { startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

/**
 * `bai schedule …` with --json against a real manager and agent, and the schedule gauges of a
 * scrape after what the commands did. The schedules fire at 03:00 (far from the test's minutes),
 * so only triggers start runs here; firing on time is docs/schedules.md's tests.
 */
let stack: TestStack;

test.before(async () => {
  stack = await startTestStack({ agents: 1 });
});
test.after.always(async () => {
  await stack?.close();
});

const json = <T>(s: string): T => JSON.parse(s) as T;

async function ok<T>(args: string[]): Promise<T> {
  const r = await bai(stack, [...args, '--json']);
  if (r.code !== 0) throw new Error(`bai ${args.join(' ')}: exit ${r.code}\n${r.stderr}${r.stdout}`);
  return json<T>(r.stdout);
}

async function scrape(): Promise<Map<string, number>> {
  const res = await fetch(`${stack.manager.url}/metrics`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`scrape: ${res.status} ${text}`);
  if (parsePrometheusTextFormat(text).length === 0) throw new Error('no metric families parsed');
  return strictSamples(text);
}

test.serial('create, list, info with five next instants in the zone, suspend and resume', async (t) => {
  const created = await ok<ScheduleWire>([
    'schedule',
    'create',
    'cli-nightly',
    '--cron',
    '0 3 * * *',
    '--tz',
    'Europe/Berlin',
    '--policy',
    'forbid',
    '--starting-deadline',
    '5m',
    '--successful-history',
    '4',
    '-e',
    'GREETING=hello',
    '--tag',
    'from-cli',
    '-c',
    'echo "$GREETING"',
    'python',
  ]);
  t.like(created, {
    name: 'cli-nightly',
    cron: '0 3 * * *',
    timezone: 'Europe/Berlin',
    concurrencyPolicy: 'Forbid',
    startingDeadlineSeconds: 300,
    suspend: false,
    successfulHistoryLimit: 4,
    failedHistoryLimit: 1,
    lastRun: null,
  });
  t.like(created.session, { image: 'python', type: 'batch', tag: 'from-cli' });
  t.truthy(created.nextRunAt);

  const list = await ok<{ items: ScheduleWire[] }>(['schedule', 'list']);
  t.deepEqual(
    list.items.filter((s) => s.name === 'cli-nightly').map((s) => s.nextRunAt),
    [created.nextRunAt],
  );
  const human = await bai(stack, ['schedule', 'list']);
  t.is(human.code, 0);
  t.regex(human.stdout, /^NAME +CRON +ZONE +POLICY +NEXT +LAST RESULT +STATE$/m);
  t.regex(human.stdout, /^cli-nightly +0 3 \* \* \* +Europe\/Berlin +Forbid +.* +- +active$/m);

  const info = await ok<ScheduleWire>(['schedule', 'info', 'cli-nightly']);
  const next = info.nextInstants ?? [];
  t.is(next.length, 5);
  // 03:00 Berlin time on five days in a row, each with the zone's offset of that day.
  for (const i of next) t.regex(i, /^\d{4}-\d\d-\d\dT03:00:00\+0[12]:00$/);
  const days = next.map((i) => Date.parse(i));
  for (let k = 1; k < 5; k++)
    t.true(days[k]! - days[k - 1]! >= 23 * 3600_000 && days[k]! - days[k - 1]! <= 25 * 3600_000);
  t.is(Date.parse(next[0]!), Date.parse(created.nextRunAt!));
  const infoText = await bai(stack, ['schedule', 'info', 'cli-nightly']);
  t.regex(infoText.stdout, /^Next instants \(Europe\/Berlin\)$/m);
  t.is(infoText.stdout.match(/^ {2}\d{4}-\d\d-\d\d 03:00:00 \+0[12]:00$/gm)?.length, 5);

  const suspended = await ok<ScheduleWire>(['schedule', 'suspend', 'cli-nightly']);
  t.is(suspended.suspend, true);
  t.is(suspended.nextRunAt, null);
  t.deepEqual((await ok<ScheduleWire>(['schedule', 'info', 'cli-nightly'])).nextInstants, []);
  const resumed = await ok<ScheduleWire>(['schedule', 'resume', 'cli-nightly']);
  t.is(resumed.suspend, false);
  t.is(resumed.nextRunAt, created.nextRunAt);
});

test.serial(
  'trigger starts a session that names its schedule; info shows the run and its result',
  async (t) => {
    const r = await ok<ScheduleTriggerWire>(['schedule', 'trigger', 'cli-nightly']);
    t.regex(r.sessionName, /^cli-nightly-\d+$/);
    const done = await waitForStatus(stack.client, r.sessionId);
    t.is(`${done.status} ${done.result}`, 'TERMINATED SUCCESS');
    const info = await ok<SessionWire>(['session', 'info', r.sessionId]);
    t.is(info.scheduleName, 'cli-nightly');
    t.is(Date.parse(info.scheduledFor!), Date.parse(r.scheduledFor));
    t.regex(
      (await bai(stack, ['session', 'info', r.sessionId])).stdout,
      /^Schedule +cli-nightly \(instant /m,
    );
    const ps = await bai(stack, ['ps', '-a', '--schedule', 'cli-nightly']);
    t.regex(ps.stdout, new RegExp(`^\\S+ +${r.sessionName} +cli-nightly +batch +TERMINATED`, 'm'));

    const s = await ok<ScheduleWire>(['schedule', 'info', 'cli-nightly']);
    t.is(s.runs?.length, 1);
    t.like(s.runs![0], {
      outcome: 'triggered',
      sessionId: r.sessionId,
      status: 'TERMINATED',
      result: 'SUCCESS',
      exitCode: 0,
    });
    t.like(s.lastRun, { outcome: 'triggered', result: 'SUCCESS' });
    const text = await bai(stack, ['schedule', 'info', 'cli-nightly']);
    t.regex(text.stdout, new RegExp(`^ {2}.+ +triggered +${r.sessionId} +SUCCESS exit 0$`, 'm'));
  },
);

test.serial('a scrape shows schedules by state, the next instant and the last result', async (t) => {
  await ok(['schedule', 'create', 'cli-off', '--cron', '@daily', '--suspend', '-c', 'true', 'python']);
  const nightly = await ok<ScheduleWire>(['schedule', 'info', 'cli-nightly']);
  const m = await scrape();
  t.is(m.get(keyOf('bai_schedules', { state: 'active' })), 1);
  t.is(m.get(keyOf('bai_schedules', { state: 'suspended' })), 1);
  const labels = { schedule: 'cli-nightly', access_key: stack.database.admin.accessKey };
  t.is(
    m.get(keyOf('bai_schedule_next_run_timestamp_seconds', labels)),
    Date.parse(nightly.nextRunAt!) / 1000,
  );
  t.is(
    m.get(
      keyOf('bai_schedule_last_run_timestamp_seconds', {
        ...labels,
        outcome: 'triggered',
        result: 'SUCCESS',
      }),
    ),
    Date.parse(nightly.lastRun!.scheduledFor) / 1000,
  );
  t.is(m.get(keyOf('bai_schedule_last_run_success', labels)), 1);
  t.false([...m.keys()].some((k) => k.startsWith('bai_schedule_next_run') && k.includes('"cli-off"')));
  t.is(m.get(keyOf('bai_schedule_runs_total', { outcome: 'triggered' })), 1);
});

test.serial('bad input: a clear error and exit 4; an unknown schedule is exit 1', async (t) => {
  const bad = await bai(stack, [
    'schedule',
    'create',
    'cli-bad',
    '--cron',
    '61 * * * *',
    '-c',
    'true',
    'python',
  ]);
  t.is(bad.code, 4);
  t.regex(bad.stderr, /^Error: .*cron.*\(HTTP 400 invalid-schedule\)$/im);
  const zone = await bai(stack, [
    'schedule',
    'create',
    'cli-bad',
    '--cron',
    '@daily',
    '--tz',
    'Mars/Olympus',
    '-c',
    'true',
    'python',
  ]);
  t.is(zone.code, 4);
  t.regex(zone.stderr, /zone|timezone/i);
  const policy = await bai(stack, [
    'schedule',
    'create',
    'cli-bad',
    '--cron',
    '@daily',
    '--policy',
    'sometimes',
    '-c',
    'true',
    'python',
  ]);
  t.is(policy.code, 4);
  t.regex(policy.stderr, /--policy takes allow, forbid or replace/);
  const dup = await bai(stack, [
    'schedule',
    'create',
    'cli-nightly',
    '--cron',
    '@daily',
    '-c',
    'true',
    'python',
  ]);
  t.is(dup.code, 1);
  t.regex(dup.stderr, /schedule-exists/);
  const missing = await bai(stack, ['schedule', 'info', 'no-such-schedule']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /schedule-not-found/);
  t.deepEqual((await ok<{ items: ScheduleWire[] }>(['schedule', 'list'])).items.map((s) => s.name).sort(), [
    'cli-nightly',
    'cli-off',
  ]);
});

test.serial('rm deletes the schedule; the session it started stays', async (t) => {
  const runs = (await ok<ScheduleWire>(['schedule', 'info', 'cli-nightly'])).runs ?? [];
  t.deepEqual(await ok(['schedule', 'rm', 'cli-nightly']), { schedule: 'cli-nightly', deleted: true });
  t.is((await bai(stack, ['schedule', 'info', 'cli-nightly'])).code, 1);
  const kept = await stack.client.request<SessionWire>('GET', `/session/${runs[0]!.sessionId}`);
  t.is(kept.status, 'TERMINATED');
  const m = await scrape();
  t.is(m.get(keyOf('bai_schedules', { state: 'active' })), 0);
  t.false([...m.keys()].some((k) => k.includes('"cli-nightly"')));
});
