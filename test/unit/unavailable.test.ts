import test from 'ava';
import { retryDelayMs } from '../../src/cli/client.js';
import { isDatabaseUnavailable } from '../../src/persistence/db.js';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

test('a database that is down or refusing work is told apart from a failing request', (t) => {
  t.true(isDatabaseUnavailable(withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')));
  t.true(isDatabaseUnavailable(withCode('57P01', 'terminating connection due to administrator command')));
  t.true(isDatabaseUnavailable(withCode('57P03', 'the database system is starting up')));
  t.true(isDatabaseUnavailable(withCode('08006')));
  t.true(isDatabaseUnavailable(withCode('53300', 'too many connections')));
  t.true(isDatabaseUnavailable(new Error('Connection terminated unexpectedly')));
  t.true(
    isDatabaseUnavailable(
      Object.assign(new Error('Knex: Timeout acquiring a connection.'), { name: 'KnexTimeoutError' }),
    ),
  );
  t.true(isDatabaseUnavailable(new Error('wrapped', { cause: withCode('ECONNRESET') })));
  t.true(isDatabaseUnavailable(new AggregateError([withCode('ECONNREFUSED')], 'all addresses failed')));
  t.false(isDatabaseUnavailable(withCode('23505', 'duplicate key value')));
  t.false(isDatabaseUnavailable(withCode('22P02', 'invalid input syntax')));
  t.false(isDatabaseUnavailable(new TypeError('x is undefined')));
  t.false(isDatabaseUnavailable(null));
});

test('retry delays: Retry-After when given (capped), else doubling from 0.5 s to 8 s with jitter', (t) => {
  const mid = () => 0.5;
  t.is(retryDelayMs(1, '2'), 2000);
  t.is(retryDelayMs(1, '3600'), 30_000);
  t.is(retryDelayMs(1, null, mid), 500);
  t.is(retryDelayMs(2, null, mid), 1000);
  t.is(retryDelayMs(5, null, mid), 8000);
  t.is(retryDelayMs(9, null, mid), 8000);
  t.is(retryDelayMs(1, 'Wed, 21 Oct 2026 07:28:00 GMT', mid), 500, 'an HTTP date is not read: backoff');
  for (let i = 0; i < 50; i++) {
    const d = retryDelayMs(3, null);
    t.true(d >= 1600 && d <= 2400);
  }
});
