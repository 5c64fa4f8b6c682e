import test from 'ava';
import { parseRelativeSeconds, parseStartsAt, parseTimeoutSeconds } from '../../src/domain/starts-at.js';
import { InvalidRequest } from '../../src/domain/errors.js';

const now = new Date('2026-09-01T00:00:00Z');

for (const [text, secs] of [
  ['10min', 600],
  ['1h30m', 5400],
  ['+30s', 30],
  ['2hours 15min', 8100],
  ['1d1hr', 90000],
  ['45', 45],
  ['1.5h', 5400],
  ['-10s', -10],
  ['1 day 2 hours', 93600],
] as const) {
  test(`relative "${text}" is ${secs} s`, (t) => {
    t.is(parseRelativeSeconds(text), secs);
  });
}

for (const bad of ['', 'soon', '10 parsecs', '1m1h', '5s5s', 'h1']) {
  test(`"${bad}" is not a relative time`, (t) => {
    t.is(parseRelativeSeconds(bad), null);
  });
}

test('ISO-8601 with an offset is taken as written', (t) => {
  t.is(parseStartsAt('2026-09-01T09:00:00+09:00', now).toISOString(), '2026-09-01T00:00:00.000Z');
});

test('a relative start is added to now', (t) => {
  t.is(parseStartsAt('1h30m', now).toISOString(), '2026-09-01T01:30:00.000Z');
});

test('garbage gets a message that shows the accepted forms', (t) => {
  const e = t.throws(() => parseStartsAt('next tuesday', now), { instanceOf: InvalidRequest });
  t.regex(e!.message, /ISO-8601.*10min/);
});

test('batch_timeout accepts seconds and units', (t) => {
  t.is(parseTimeoutSeconds(90), 90);
  t.is(parseTimeoutSeconds('30m'), 1800);
  t.is(parseTimeoutSeconds('2h'), 7200);
  t.is(parseTimeoutSeconds('1w'), 604800);
  t.throws(() => parseTimeoutSeconds('-5'), { instanceOf: InvalidRequest });
  t.throws(() => parseTimeoutSeconds('ten'), { instanceOf: InvalidRequest });
  t.throws(() => parseTimeoutSeconds(0), { instanceOf: InvalidRequest });
});
