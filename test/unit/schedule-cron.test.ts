import test from 'ava';
import { InvalidSchedule } from '../../src/domain/errors.js';
import {
  checkCron,
  instantsBetween,
  isoInZone,
  nextInstant,
  nextInstants,
} from '../../src/domain/schedule-cron.js';

const iso = (ds: Date[]) => ds.map((d) => d.toISOString());
const between = (cron: string, timezone: string, from: string, until: string) =>
  iso(instantsBetween({ cron, timezone }, new Date(from), new Date(until)).instants);

// Europe/Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST (02:xx does not exist).
test('Berlin, spring forward: a fixed-time job in the skipped hour runs once, at 03:00 CEST', (t) => {
  t.deepEqual(between('30 2 * * *', 'Europe/Berlin', '2026-03-28T00:00:00Z', '2026-03-30T23:59:59Z'), [
    '2026-03-28T01:30:00.000Z', // 02:30 CET
    '2026-03-29T01:00:00.000Z', // 03:00 CEST: the skipped 02:30 runs at the hour after, once
    '2026-03-30T00:30:00.000Z', // 02:30 CEST
  ]);
});

test('Berlin, spring forward: an hourly job has no instant in the skipped hour', (t) => {
  t.deepEqual(between('0 * * * *', 'Europe/Berlin', '2026-03-29T00:00:00Z', '2026-03-29T02:00:00Z'), [
    '2026-03-29T00:00:00.000Z', // 01:00 CET
    '2026-03-29T01:00:00.000Z', // 03:00 CEST (02:00 CET never happened)
    '2026-03-29T02:00:00.000Z', // 04:00 CEST
  ]);
});

// Europe/Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET (02:xx happens twice).
test('Berlin, fall back: a fixed-time job in the repeated hour runs once', (t) => {
  t.deepEqual(between('30 2 * * *', 'Europe/Berlin', '2026-10-24T00:00:00Z', '2026-10-26T23:59:59Z'), [
    '2026-10-24T00:30:00.000Z', // 02:30 CEST
    '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first of the two; not again at 02:30 CET
    '2026-10-26T01:30:00.000Z', // 02:30 CET
  ]);
});

test('Berlin, fall back: an interval job runs in both copies of the repeated hour', (t) => {
  t.deepEqual(between('*/30 * * * *', 'Europe/Berlin', '2026-10-25T00:00:00Z', '2026-10-25T01:59:59Z'), [
    '2026-10-25T00:00:00.000Z', // 02:00 CEST
    '2026-10-25T00:30:00.000Z', // 02:30 CEST
    '2026-10-25T01:00:00.000Z', // 02:00 CET
    '2026-10-25T01:30:00.000Z', // 02:30 CET
  ]);
});

// America/New_York, 2026-03-08 02:00 EST → 03:00 EDT; 2026-11-01 02:00 EDT → 01:00 EST.
test('New York, spring forward: 02:30 runs once at 03:00 EDT', (t) => {
  t.deepEqual(between('30 2 * * *', 'America/New_York', '2026-03-07T00:00:00Z', '2026-03-09T23:59:59Z'), [
    '2026-03-07T07:30:00.000Z', // 02:30 EST
    '2026-03-08T07:00:00.000Z', // 03:00 EDT
    '2026-03-09T06:30:00.000Z', // 02:30 EDT
  ]);
});

test('New York, fall back: 01:30 (the repeated hour) runs once', (t) => {
  t.deepEqual(between('30 1 * * *', 'America/New_York', '2026-10-31T00:00:00Z', '2026-11-02T23:59:59Z'), [
    '2026-10-31T05:30:00.000Z', // 01:30 EDT
    '2026-11-01T05:30:00.000Z', // 01:30 EDT, the first of the two
    '2026-11-02T06:30:00.000Z', // 01:30 EST
  ]);
});

test('instants print in their zone with its offset, across the change', (t) => {
  const spec = { cron: '0 3 * * *', timezone: 'Europe/Berlin' };
  const next = nextInstants(spec, new Date('2026-03-27T12:00:00Z'), 3).map((d) =>
    isoInZone(d, spec.timezone),
  );
  t.deepEqual(next, ['2026-03-28T03:00:00+01:00', '2026-03-29T03:00:00+02:00', '2026-03-30T03:00:00+02:00']);
  t.is(isoInZone(new Date('2026-11-01T05:30:00Z'), 'America/New_York'), '2026-11-01T01:30:00-04:00');
  t.is(isoInZone(new Date('2026-11-01T06:30:00Z'), 'America/New_York'), '2026-11-01T01:30:00-05:00');
  t.is(isoInZone(new Date('2026-11-01T06:30:00Z'), 'UTC'), '2026-11-01T06:30:00+00:00');
});

test('6 fields: seconds first; instants are strictly after the given time', (t) => {
  const spec = { cron: '*/2 * * * * *', timezone: 'UTC' };
  t.is(nextInstant(spec, new Date('2026-01-01T00:00:00.500Z'))!.toISOString(), '2026-01-01T00:00:02.000Z');
  t.is(nextInstant(spec, new Date('2026-01-01T00:00:02.000Z'))!.toISOString(), '2026-01-01T00:00:04.000Z');
  t.deepEqual(between('*/2 * * * * *', 'UTC', '2026-01-01T00:00:02Z', '2026-01-01T00:00:08Z'), [
    '2026-01-01T00:00:02.000Z',
    '2026-01-01T00:00:04.000Z',
    '2026-01-01T00:00:06.000Z',
    '2026-01-01T00:00:08.000Z',
  ]);
});

test('macros and the UTC default', (t) => {
  t.is(
    nextInstant({ cron: '@hourly', timezone: 'UTC' }, new Date('2026-01-01T00:10:00Z'))!.toISOString(),
    '2026-01-01T01:00:00.000Z',
  );
  t.is(
    nextInstant(
      { cron: '@daily', timezone: 'America/New_York' },
      new Date('2026-01-01T12:00:00Z'),
    )!.toISOString(),
    '2026-01-02T05:00:00.000Z',
  );
});

test('a walk stops at its limit and says more are left', (t) => {
  const w = instantsBetween(
    { cron: '* * * * * *', timezone: 'UTC' },
    new Date('2026-01-01T00:00:00Z'),
    new Date('2026-01-01T01:00:00Z'),
    10,
  );
  t.is(w.instants.length, 10);
  t.true(w.more);
});

test('bad expressions and zones are invalid-schedule naming the field', (t) => {
  for (const cron of ['bad', '* * * *', '61 * * * *', '* * * * * * *', '']) {
    const e = t.throws(() => checkCron({ cron, timezone: 'UTC' }), { instanceOf: InvalidSchedule });
    t.deepEqual(e?.data, { field: 'cron' }, cron);
    t.is(e?.code, 'invalid-schedule');
  }
  const e = t.throws(() => checkCron({ cron: '* * * * *', timezone: 'Nowhere/Zone' }), {
    instanceOf: InvalidSchedule,
  });
  t.deepEqual(e?.data, { field: 'timezone' });
  t.deepEqual(checkCron({ cron: ' */5 * * * * ', timezone: 'Asia/Tokyo' }), {
    cron: '*/5 * * * *',
    timezone: 'Asia/Tokyo',
  });
});
