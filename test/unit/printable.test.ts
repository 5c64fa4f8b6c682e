import test from 'ava';
import { InvalidRequest } from '../../src/domain/errors.js';
import { firstUnprintable, requirePrintable } from '../../src/domain/printable.js';

test('C0, DEL, C1 and bidi overrides are unprintable; ordinary text is not', (t) => {
  for (const s of [
    't\r\nX-Evil: 1',
    'a\u001b[2J',
    'x\u007f',
    'x\u0085',
    'x\u009b2J',
    'a\u202eb',
    'a\u2066b',
    'a\tb',
  ])
    t.not(firstUnprintable(s), null, JSON.stringify(s));
  for (const s of ['plain', 'ünïcödé 名前 😀', 'a-b_c.d e', '']) t.is(firstUnprintable(s), null, s);
  t.deepEqual(firstUnprintable('ab\u001bc'), { index: 2, codePoint: 'U+001B' });
});

test('multiline text keeps tab and line breaks but not escapes', (t) => {
  t.is(firstUnprintable('echo a\n\techo b\r\n', true), null);
  t.not(firstUnprintable('printf "\u001b[2J"', true), null);
});

test('requirePrintable names the field in a 400', (t) => {
  const err = t.throws(() => requirePrintable('t\u001b[2J', 'tag'), { instanceOf: InvalidRequest });
  t.is(err!.status, 400);
  t.regex(err!.message, /^tag must not contain control characters \(U\+001B at position 1\)/);
});
