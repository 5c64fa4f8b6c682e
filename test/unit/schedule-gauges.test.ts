import test from 'ava';
import { Registry } from 'prom-client';
import { lastRunSuccess, ScheduleGauges } from '../../src/metrics/schedule-gauges.js';
import type { ScheduleState } from '../../src/persistence/schedule-metrics-store.js';
import { keyOf, strictSamples } from '../helpers/prom-text.js';

// The schedules' gauges of a scrape: set from one read, reset by the next.

const at = (iso: string) => new Date(iso);
const states: ScheduleState[] = [
  {
    name: 'nightly',
    accessKey: 'AK1',
    suspend: false,
    nextRunAt: at('2026-11-30T01:00:00Z'),
    lastRun: {
      scheduledFor: at('2026-11-29T01:00:00Z'),
      outcome: 'started',
      status: 'TERMINATED',
      result: 'FAILURE',
    },
  },
  {
    name: 'poll',
    accessKey: 'AK1',
    suspend: false,
    nextRunAt: at('2026-11-29T10:10:00Z'),
    lastRun: { scheduledFor: at('2026-11-29T10:00:00Z'), outcome: 'skipped', status: null, result: null },
  },
  { name: 'off', accessKey: 'AK2', suspend: true, nextRunAt: null, lastRun: null },
];

async function samples(g: ScheduleGauges, r: Registry, s: ScheduleState[]) {
  g.apply(s);
  return strictSamples(await r.metrics());
}

test('schedules by state, next instant and latest run per schedule', async (t) => {
  const r = new Registry();
  const g = new ScheduleGauges([r]);
  const m = await samples(g, r, states);
  t.is(m.get(keyOf('bai_schedules', { state: 'active' })), 2);
  t.is(m.get(keyOf('bai_schedules', { state: 'suspended' })), 1);
  const nightly = { schedule: 'nightly', access_key: 'AK1' };
  t.is(
    m.get(keyOf('bai_schedule_next_run_timestamp_seconds', nightly)),
    Date.parse('2026-11-30T01:00:00Z') / 1000,
  );
  t.is(
    m.get(
      keyOf('bai_schedule_last_run_timestamp_seconds', { ...nightly, outcome: 'started', result: 'FAILURE' }),
    ),
    Date.parse('2026-11-29T01:00:00Z') / 1000,
  );
  t.is(m.get(keyOf('bai_schedule_last_run_success', nightly)), 0);
  const poll = { schedule: 'poll', access_key: 'AK1' };
  t.is(
    m.get(keyOf('bai_schedule_last_run_timestamp_seconds', { ...poll, outcome: 'skipped', result: 'NONE' })),
    Date.parse('2026-11-29T10:00:00Z') / 1000,
  );
  t.false(
    m.has(keyOf('bai_schedule_last_run_success', poll)),
    'a skipped instant is neither success nor failure',
  );
  // Suspended: no next instant; never run: no latest run.
  t.false([...m.keys()].some((k) => k.includes('schedule="off"')));
});

test('a schedule gone from the read is gone from the next scrape', async (t) => {
  const r = new Registry();
  const g = new ScheduleGauges([r]);
  await samples(g, r, states);
  const m = await samples(g, r, []);
  t.is(m.get(keyOf('bai_schedules', { state: 'active' })), 0);
  t.is(m.get(keyOf('bai_schedules', { state: 'suspended' })), 0);
  t.false([...m.keys()].some((k) => k.includes('schedule=')));
});

test('latest run success: 1 succeeded, 0 failed, missed or refused; none while it runs', (t) => {
  const run = (outcome: string, result: string | null) => ({
    scheduledFor: new Date(0),
    outcome,
    status: result ? 'TERMINATED' : null,
    result,
  });
  t.is(lastRunSuccess(run('started', 'SUCCESS')), 1);
  t.is(lastRunSuccess(run('triggered', 'FAILURE')), 0);
  t.is(lastRunSuccess(run('missed', null)), 0);
  t.is(lastRunSuccess(run('failed', null)), 0);
  t.is(lastRunSuccess(run('started', 'UNDEFINED')), null);
  t.is(lastRunSuccess(run('skipped', null)), null);
});
