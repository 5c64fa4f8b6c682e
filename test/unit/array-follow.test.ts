import test from 'ava';
import { LinePrefixer } from '../../src/cli/array-follow.js';

test('lines are prefixed whole, whatever the chunks; a last partial line is ended', async (t) => {
  let out = '';
  const p = new LinePrefixer('[7] ', (text) => {
    out += text;
  });
  await p.push('hel');
  t.is(out, '', 'nothing until a line ends');
  await p.push('lo\nwor');
  await p.push('ld\n\nlast');
  await p.flush();
  t.is(out, '[7] hello\n[7] world\n[7] \n[7] last\n');
  await p.flush();
  t.is(out, '[7] hello\n[7] world\n[7] \n[7] last\n', 'a second flush writes nothing');
});
