import test from 'ava';
import { createWaitLimitMs } from '../../src/domain/create-wait.js';
import { InvalidRequest } from '../../src/domain/errors.js';
import { eventInScope, parseEventScope, resultEventName, sessionEventName } from '../../src/domain/events.js';

test('scope: session, kernel, * and comma lists as Backend.AI reads them; absent is session', (t) => {
  const families = (v: string | undefined) => [...parseEventScope(v)].sort();
  t.deepEqual(families(undefined), ['session']);
  t.deepEqual(families('session'), ['session']);
  t.deepEqual(families('kernel'), ['kernel']);
  t.deepEqual(families('*'), ['kernel', 'session']);
  t.deepEqual(families('session,kernel'), ['kernel', 'session']);
  t.deepEqual(families('kernel,session'), ['kernel', 'session']);
  t.deepEqual(families('session, kernel'), ['kernel', 'session']);
  t.deepEqual(families('kernel,kernel'), ['kernel']);
});

test('scope: anything else is a 400 that quotes the value', (t) => {
  for (const bad of ['', 'all', 'session,*', '*,kernel', 'session,,kernel', 'Session', 'kernel_']) {
    const err = t.throws(() => parseEventScope(bad), { instanceOf: InvalidRequest }, bad);
    t.true(err!.message.includes(JSON.stringify(bad)), err!.message);
  }
  const long = 'x'.repeat(500);
  const err = t.throws(() => parseEventScope(long), { instanceOf: InvalidRequest });
  t.true(err!.message.length < 200);
});

test('an event is in scope by its family', (t) => {
  const both = parseEventScope('*');
  const kernel = parseEventScope('kernel');
  t.true(eventInScope('session_failure', both));
  t.true(eventInScope('kernel_started', both));
  t.false(eventInScope('session_terminated', kernel));
  t.true(eventInScope('kernel_terminated', kernel));
  t.false(eventInScope('kernel_started', parseEventScope('session')));
});

test('result events and the event of each end status', (t) => {
  t.is(resultEventName('SUCCESS'), 'session_success');
  t.is(resultEventName('FAILURE'), 'session_failure');
  t.is(resultEventName('UNDEFINED'), undefined);
  t.is(sessionEventName('TERMINATED'), 'session_terminated');
  t.is(sessionEventName('CANCELLED'), 'session_cancelled');
});

test('maxWaitSeconds: a number of seconds, or no limit for 0 (as Backend.AI)', (t) => {
  t.is(createWaitLimitMs(0), null);
  t.is(createWaitLimitMs(1), 1000);
  t.is(createWaitLimitMs(86400), 86_400_000);
});
