import test from 'ava';
import type { Report } from '../../src/queue/payloads.js';
import {
  entryFields,
  isNoGroup,
  parseEntry,
  parseReadReply,
  retryDelayMs,
} from '../../src/queue/report-entry.js';

const failed: Report = {
  name: 'session-failed',
  data: { agentId: 'a1', sessionId: 's1', attempt: 2, status: 'ERROR', reason: 'r', message: 'm' },
};

test('an entry written for a report reads back as that report with its id', (t) => {
  const fields = entryFields(failed, 'failed.s1.2');
  t.deepEqual(parseEntry('1-0', fields), { entryId: '1-0', report: failed, reportId: 'failed.s1.2' });
});

test('fields are found by name, in any order', (t) => {
  const e = parseEntry('2-0', ['i', 'x', 'd', '{"agentId":"a"}', 'n', 'agent-started']);
  t.like(e, { entryId: '2-0', reportId: 'x', report: { name: 'agent-started', data: { agentId: 'a' } } });
});

test('an entry that is not a report is told apart, with why', (t) => {
  t.like(parseEntry('3-0', ['n', 'drop-tables', 'd', '{}']), {
    malformed: 'unknown report name "drop-tables"',
  });
  t.like(parseEntry('3-1', ['d', '{}']), { malformed: 'unknown report name ""' });
  t.like(parseEntry('3-2', ['n', 'kernel-exited', 'd', '{not json']), { malformed: 'data is not JSON' });
  t.like(parseEntry('3-3', ['n', 'kernel-exited', 'd', '[1]']), { malformed: 'data is not an object' });
  t.like(parseEntry('3-4', ['n', 'kernel-exited', 'd', 'null']), { malformed: 'data is not an object' });
  t.like(parseEntry('3-5', null), { malformed: 'unknown report name ""' });
});

test('a read reply groups entries by stream and leaves out deleted ones and empty streams', (t) => {
  const reply: [string, [string, string[] | null][]][] = [
    [
      'p:reports-a:stream',
      [
        ['1-0', entryFields(failed, 'i1')],
        ['1-1', null],
      ],
    ],
    ['p:reports-b:stream', []],
  ];
  const read = parseReadReply(reply);
  t.deepEqual([...read.keys()], ['p:reports-a:stream']);
  t.is(read.get('p:reports-a:stream')!.length, 1);
  t.is(parseReadReply(null).size, 0);
});

test('a failed report waits longer after each failure, up to 30 s, and never gives up', (t) => {
  t.is(retryDelayMs(0), 0);
  t.is(retryDelayMs(1), 500);
  t.is(retryDelayMs(2), 1000);
  t.is(retryDelayMs(6), 16_000);
  t.is(retryDelayMs(7), 30_000);
  t.is(retryDelayMs(1000), 30_000);
});

test('NOGROUP errors are recognised, others are not', (t) => {
  t.true(isNoGroup(new Error("NOGROUP No such key 'k' or consumer group 'g' in XREADGROUP")));
  t.false(isNoGroup(new Error('NOPERM this user has no permissions')));
  t.false(isNoGroup(null));
});
