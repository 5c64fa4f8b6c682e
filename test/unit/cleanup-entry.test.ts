import test from 'ava';
import { parseCleanup } from '../../src/queue/cleanup-stream.js';
import { cleanupSeenKey, cleanupStreamKey } from '../../src/queue/names.js';

test('a cleanup entry reads back as its session and attempt, fields in any order', (t) => {
  t.deepEqual(parseCleanup(['s', 'sess-1', 'a', '2']), { sessionId: 'sess-1', attempt: 2 });
  t.deepEqual(parseCleanup(['a', '0', 's', 'sess-1']), { sessionId: 'sess-1', attempt: 0 });
});

test('an entry that is not a cleanup reads as null', (t) => {
  t.is(parseCleanup(null), null);
  t.is(parseCleanup(['s', '', 'a', '1']), null);
  t.is(parseCleanup(['s', 'x', 'a', 'one']), null);
  t.is(parseCleanup(['s', 'x', 'a', '-1']), null);
  t.is(parseCleanup(['s', 'x']), null);
});

test('an agent’s cleanup keys sit under its job queue’s name, which its ACL pattern covers', (t) => {
  t.is(cleanupStreamKey('bai', 'gpu:a', 'host-1'), 'bai:gpu%3Aa/agent-host-1:cleanups');
  t.is(cleanupSeenKey('bai', 'default', 'host-1', 's1', 2), 'bai:default/agent-host-1:cleanup-seen:s1.2');
});
