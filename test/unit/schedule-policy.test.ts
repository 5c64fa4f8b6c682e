import test from 'ava';
import { historyToPrune, planDue, type DueState } from '../../src/domain/schedule-policy.js';
import { parseScheduleCreate, parseSchedulePatch } from '../../src/domain/schedule-spec.js';
import { InvalidSchedule } from '../../src/domain/errors.js';

const EVERY_2S = { cron: '*/2 * * * * *', timezone: 'UTC' };
const at = (s: string) => new Date(`2026-01-01T00:00:${s}Z`);
const state = (o: Partial<DueState>): DueState => ({
  nextRunAt: at('10.000'),
  now: at('10.200'),
  startingDeadlineSeconds: null,
  policy: 'Allow',
  liveRuns: 0,
  ...o,
});
const iso = (ds: Date[]) => ds.map((d) => d.toISOString());

test('nothing due: no decision, the next instant stays', (t) => {
  const p = planDue(EVERY_2S, state({ now: at('09.900') }));
  t.deepEqual(p, { missed: [], fire: null, action: null, nextRunAt: at('10.000') });
});

test('one instant due: it starts, the next is the following instant', (t) => {
  const p = planDue(EVERY_2S, state({}));
  t.deepEqual(p, { missed: [], fire: at('10.000'), action: 'start', nextRunAt: at('12.000') });
});

test('after downtime: one catch-up run (the latest instant), the earlier ones missed', (t) => {
  const p = planDue(EVERY_2S, state({ now: at('17.000') }));
  t.deepEqual(iso(p.missed), iso([at('10.000'), at('12.000'), at('14.000')]));
  t.deepEqual(p.fire, at('16.000'));
  t.is(p.action, 'start');
  t.deepEqual(p.nextRunAt, at('18.000'));
});

test('the latest instant past startingDeadlineSeconds is missed too: nothing runs late', (t) => {
  const p = planDue(EVERY_2S, state({ now: at('17.500'), startingDeadlineSeconds: 1 }));
  t.deepEqual(iso(p.missed), iso([at('10.000'), at('12.000'), at('14.000'), at('16.000')]));
  t.is(p.fire, null);
  t.deepEqual(p.nextRunAt, at('18.000'));
  // Within the deadline it runs.
  const q = planDue(EVERY_2S, state({ now: at('16.900'), startingDeadlineSeconds: 1 }));
  t.deepEqual(q.fire, at('16.000'));
});

test('Forbid skips while a run is live; Replace replaces; Allow starts', (t) => {
  t.is(planDue(EVERY_2S, state({ policy: 'Forbid', liveRuns: 1 })).action, 'skip');
  t.is(planDue(EVERY_2S, state({ policy: 'Forbid', liveRuns: 0 })).action, 'start');
  t.is(planDue(EVERY_2S, state({ policy: 'Replace', liveRuns: 1 })).action, 'replace');
  t.is(planDue(EVERY_2S, state({ policy: 'Allow', liveRuns: 3 })).action, 'start');
  // A skipped instant still advances the schedule.
  t.deepEqual(planDue(EVERY_2S, state({ policy: 'Forbid', liveRuns: 1 })).nextRunAt, at('12.000'));
});

test('a long downtime is walked in bounded steps, every instant decided once', (t) => {
  const spec = { cron: '* * * * * *', timezone: 'UTC' };
  let next: Date | null = new Date('2026-01-01T00:00:00Z');
  const now = new Date('2026-01-01T00:20:00Z');
  const seen: string[] = [];
  let fired: Date | null = null;
  for (let round = 0; round < 10 && next && next <= now; round++) {
    const p = planDue(spec, state({ nextRunAt: next, now }));
    seen.push(...iso(p.missed));
    if (p.fire) {
      fired = p.fire;
      seen.push(p.fire.toISOString());
    }
    next = p.nextRunAt;
  }
  t.is(seen.length, 20 * 60 + 1);
  t.is(new Set(seen).size, seen.length);
  t.deepEqual(fired, now);
  t.deepEqual(next, new Date('2026-01-01T00:20:01Z'));
});

test('history pruning keeps the newest within each limit and every live run', (t) => {
  const entries = [
    { id: 'a', kind: 'live' as const },
    { id: 'b', kind: 'success' as const },
    { id: 'c', kind: 'failure' as const },
    { id: 'd', kind: 'success' as const },
    { id: 'e', kind: 'failure' as const },
    { id: 'f', kind: 'success' as const },
    { id: 'g', kind: 'live' as const },
    { id: 'h', kind: 'success' as const },
  ];
  t.deepEqual(historyToPrune(entries, 3, 1), ['e', 'h']);
  t.deepEqual(historyToPrune(entries, 0, 0), ['b', 'c', 'd', 'e', 'f', 'h']);
});

const BODY = { image: 'python:3.12-alpine', type: 'batch', startup_command: 'true' };

test('a create body: defaults, aliases, and the fields a schedule refuses', (t) => {
  const now = new Date();
  const s = parseScheduleCreate({ name: 'nightly', cron: '@daily', session: BODY }, now);
  t.like(s, {
    timezone: 'UTC',
    concurrencyPolicy: 'Allow',
    startingDeadlineSeconds: null,
    suspend: false,
    successfulHistoryLimit: 3,
    failedHistoryLimit: 1,
  });
  const snake = parseScheduleCreate(
    {
      name: 'n2',
      cron: '0 3 * * *',
      time_zone: 'Europe/Berlin',
      concurrency_policy: 'forbid',
      session: BODY,
    },
    now,
  );
  t.is(snake.concurrencyPolicy, 'Forbid');
  t.is(snake.timezone, 'Europe/Berlin');
  const field = (body: unknown) =>
    (
      t.throws(() => parseScheduleCreate(body, now), { instanceOf: InvalidSchedule })?.data as {
        field: string;
      }
    ).field;
  t.is(field({ name: 'x', cron: '* * *', session: BODY }), 'cron');
  t.is(field({ name: 'x', cron: '@daily', timezone: 'Mars/Olympus', session: BODY }), 'timezone');
  t.is(
    field({ name: 'x', cron: '@daily', concurrencyPolicy: 'Sometimes', session: BODY }),
    'concurrencyPolicy',
  );
  t.is(field({ name: 'x', cron: '@daily', session: { ...BODY, name: 'fixed' } }), 'session');
  t.is(field({ name: 'x', cron: '@daily', session: { ...BODY, starts_at: '1h' } }), 'session');
  t.is(field({ name: 'x', cron: '@daily', session: { image: 'x', type: 'batch' } }), 'session');
  t.is(field({ name: 'x', cron: '@daily' }), 'session');
  t.is(field({ name: 'x', cron: '@daily', session: BODY, template: 't' }), 'session');
  t.is(field({ name: 'bad name', cron: '@daily', session: BODY }), 'name');
  t.is(
    field({ name: 'x', cron: '@daily', session: BODY, startingDeadlineSeconds: -1 }),
    'startingDeadlineSeconds',
  );
});

test('a patch changes what it names and keeps the rest', (t) => {
  const now = new Date();
  const s = parseScheduleCreate({ name: 'n', cron: '@daily', session: BODY, failedHistoryLimit: 5 }, now);
  const p = parseSchedulePatch(s, { suspend: true, cron: '*/5 * * * *' }, now);
  t.like(p, { name: 'n', suspend: true, cron: '*/5 * * * *', failedHistoryLimit: 5, session: BODY });
  t.throws(() => parseSchedulePatch(s, { name: 'other' }, now), { instanceOf: InvalidSchedule });
  t.is(
    parseSchedulePatch({ ...s, startingDeadlineSeconds: 9 }, { startingDeadlineSeconds: null }, now)
      .startingDeadlineSeconds,
    null,
  );
});
