import test from 'ava';
import { fits, formatSlot, parseBytes, parseSlots, subtractSlots } from '../../src/domain/resources.js';
import { InvalidRequest } from '../../src/domain/errors.js';

const known = new Set(['cpu', 'mem', 'cuda.device']);

test('sizes with units', (t) => {
  t.is(parseBytes('4g', 'mem'), 4 * 1024 ** 3);
  t.is(parseBytes('512m', 'mem'), 512 * 1024 ** 2);
  t.is(parseBytes('1.5GiB', 'mem'), 1.5 * 1024 ** 3);
  t.is(parseBytes(1000, 'mem'), 1000);
  t.throws(() => parseBytes('lots', 'mem'), { instanceOf: InvalidRequest });
  t.throws(() => parseBytes('4q', 'mem'), { instanceOf: InvalidRequest });
});

test('slots: cpu as a count, mem as bytes, unknown names refused', (t) => {
  t.deepEqual(parseSlots({ cpu: '2', mem: '4g' }, known), { cpu: 2, mem: 4 * 1024 ** 3 });
  t.deepEqual(parseSlots({ 'cuda.device': 1 }, known), { 'cuda.device': 1 });
  const e = t.throws(() => parseSlots({ gpu: 1 }, known), { instanceOf: InvalidRequest });
  t.regex(e!.message, /Unknown resource slot "gpu"/);
  t.throws(() => parseSlots({ cpu: -1 }, known), { instanceOf: InvalidRequest });
  t.throws(() => parseSlots([1], known), { instanceOf: InvalidRequest });
});

test('fits and subtract', (t) => {
  t.true(fits({ cpu: 1, mem: 100 }, { cpu: 1, mem: 100 }));
  t.false(fits({ cpu: 1.5 }, { cpu: 1 }));
  t.false(fits({ 'cuda.device': 1 }, { cpu: 4 }));
  t.deepEqual(subtractSlots({ cpu: 4, mem: 10 }, { cpu: 1 }), { cpu: 3, mem: 10 });
});

test('human form', (t) => {
  t.is(formatSlot('mem', 4 * 1024 ** 3), '4 GiB');
  t.is(formatSlot('cpu', 2), '2');
});
