import test from 'ava';
import { eventually, holdsWithin, untilDone } from '../helpers/eventually.js';

test('eventually resolves with the first value that is not null, undefined or false', async (t) => {
  let n = 0;
  const v = await eventually(() => (++n >= 3 ? `try ${n}` : n === 1 ? null : false), { intervalMs: 1 });
  t.is(v, 'try 3');
});

test('eventually takes a throw for "not yet" and quotes the last one at the deadline', async (t) => {
  const err = await t.throwsAsync(
    eventually(
      () => {
        throw new Error('refused');
      },
      { timeoutMs: 30, intervalMs: 5, message: 'the manager' },
    ),
  );
  t.regex(err!.message, /waited 30 ms for the manager; last error: refused/);
});

test('holdsWithin resolves false at the deadline instead of throwing', async (t) => {
  t.false(await holdsWithin(() => false, { timeoutMs: 20, intervalMs: 5 }));
  t.true(await holdsWithin(() => true));
});

test('untilDone fails only when the progress stops changing for stallMs', async (t) => {
  let n = 0;
  // Advances every call for 10 calls, then is done: a stall window shorter than the whole is fine.
  const done = await untilDone(async () => ({ done: ++n >= 10 ? n : null, progress: String(n) }), {
    stallMs: 50,
    intervalMs: 10,
    message: () => 'never',
  });
  t.is(done, 10);
  const err = await t.throwsAsync(
    untilDone(async () => ({ done: null, progress: 'stuck' }), {
      stallMs: 30,
      intervalMs: 5,
      message: (p) => `still ${p}`,
    }),
  );
  t.regex(err!.message, /nothing advanced for 30 ms: still stuck/);
});
