import test from 'ava';
import { parseProcStat, processUptimeSeconds, sameProcess } from '../../src/stack/process-identity.js';
import {
  commandLineIsPart,
  judgeRecord,
  maskUrl,
  parseStackState,
  poolOctetFor,
  serializeStackState,
  type PartRecord,
} from '../../src/stack/stack-state.js';
import { formatUptime } from '../../src/cli/stack-status.js';

// The local stack's records: /proc/<pid>/stat, stack.json, and which recorded pid is still ours.

const STAT =
  '21788 (cat) R 21673 21673 5041 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 59640 3133440 411 18446744073709551615 0 0 0 0 0';

test('parseProcStat reads pid, command, state, parent and start time (field 22)', (t) => {
  t.deepEqual(parseProcStat(STAT), { pid: 21788, comm: 'cat', state: 'R', ppid: 21673, startTime: 59640 });
});

test('parseProcStat counts fields after the last parenthesis: a command may hold spaces and ")"', (t) => {
  const odd = STAT.replace('(cat)', '(a b) R 1 (x)');
  t.deepEqual(parseProcStat(odd), {
    pid: 21788,
    comm: 'a b) R 1 (x',
    state: 'R',
    ppid: 21673,
    startTime: 59640,
  });
});

test('parseProcStat refuses what is not a stat line', (t) => {
  t.is(parseProcStat(''), null);
  t.is(parseProcStat('12 cat R 1'), null);
  t.is(parseProcStat('12 (cat) R 1 2 3'), null); // too short: no field 22
});

test('a process is the same only with the same pid, start time and boot', (t) => {
  const rec = { pid: 10, startTime: 500, bootId: 'b1' };
  t.true(sameProcess(rec, { pid: 10, startTime: 500, bootId: 'b1' }));
  t.false(sameProcess(rec, { pid: 10, startTime: 501, bootId: 'b1' })); // the pid was reused
  t.false(sameProcess(rec, { pid: 10, startTime: 500, bootId: 'b2' })); // after a reboot
  t.false(sameProcess(rec, null));
});

test('uptime from the start time in clock ticks', (t) => {
  t.is(processUptimeSeconds(59640, 1000, 100), 403); // 1000 - 596.4
  t.is(processUptimeSeconds(200_000, 1000, 100), 0); // never negative
  t.is(formatUptime(42), '42s');
  t.is(formatUptime(303), '5m03s');
  t.is(formatUptime(2 * 3600 + 7 * 60 + 9), '2h07m');
  t.is(formatUptime(3 * 86400 + 4 * 3600), '3d04h');
});

const rec = (over: Partial<PartRecord> = {}): PartRecord => ({
  name: 'manager',
  pid: 42,
  startTime: 1000,
  bootId: 'boot',
  address: 'http://127.0.0.1:8091',
  log: '/x/manager.log',
  ...over,
});

test('judgeRecord: ours, gone, or a stranger that took the pid', (t) => {
  t.is(judgeRecord(rec(), { pid: 42, startTime: 1000, bootId: 'boot' }, null), 'ours');
  t.is(judgeRecord(rec(), null, null), 'gone');
  t.is(judgeRecord(rec(), { pid: 42, startTime: 7, bootId: 'boot' }, ['sleep', '300']), 'stranger');
  // The start time decides, even when the stranger's command line looks like ours.
  t.is(
    judgeRecord(rec(), { pid: 42, startTime: 7, bootId: 'boot' }, [
      '/usr/bin/node',
      '/a/bin/bai.js',
      'manager',
    ]),
    'stranger',
  );
});

test('judgeRecord: a record of an older bai (no start time) is ours only by its command line', (t) => {
  const legacy = rec({ startTime: undefined, bootId: undefined });
  const now = { pid: 42, startTime: 1, bootId: 'boot' };
  t.is(judgeRecord(legacy, now, ['/usr/bin/node', '/a/bin/bai.js', 'manager']), 'ours');
  t.is(judgeRecord(legacy, now, ['/usr/bin/node', '/a/bin/bai.js', 'agent']), 'stranger');
  t.is(judgeRecord(legacy, now, ['sleep', '300']), 'stranger');
  t.is(judgeRecord(legacy, now, null), 'stranger');
});

test('commandLineIsPart knows each part as bai up launches it', (t) => {
  t.true(commandLineIsPart('redis', ['redis-server 127.0.0.1:6379']));
  t.true(commandLineIsPart('redis', ['/usr/bin/redis-server', '--port', '1']));
  t.true(commandLineIsPart('dockerd', ['/usr/sbin/dockerd', '--host', 'unix:///x']));
  t.true(commandLineIsPart('agent', ['/usr/bin/node', '/w/bin/bai.js', 'agent']));
  t.false(commandLineIsPart('dockerd', ['containerd']));
  t.false(commandLineIsPart('redis', ['redis-cli']));
});

test('parseStackState: missing, garbled and empty files are an empty state', (t) => {
  for (const text of [null, '', '{', 'null', '[]']) t.deepEqual(parseStackState(text).parts, []);
  t.is(parseStackState(null).version, 2);
});

test('parseStackState reads the first format: pids without start times; an empty pid list is nothing running', (t) => {
  const st = parseStackState(
    JSON.stringify({
      endpoint: 'http://127.0.0.1:8091',
      pids: [
        { name: 'redis', pid: 11 },
        { name: 'manager', pid: 12 },
        { name: 'bogus', pid: 13 },
        { name: 'agent', pid: -1 },
      ],
      dockerHost: 'unix:///var/run/docker.sock',
    }),
  );
  t.is(st.endpoint, 'http://127.0.0.1:8091');
  t.is(st.dockerHost, 'unix:///var/run/docker.sock');
  t.deepEqual(
    st.parts.map((p) => [p.name, p.pid, p.startTime]),
    [
      ['redis', 11, undefined],
      ['manager', 12, undefined],
    ],
  );
  t.deepEqual(parseStackState('{"endpoint": "x", "pids": []}').parts, []);
});

test('stack.json round-trips, one record per part', (t) => {
  const st = parseStackState(null);
  st.endpoint = 'http://127.0.0.1:9000';
  st.managerPort = 9000;
  st.redisPort = 6400;
  st.poolOctet = 120;
  st.redisUrl = 'redis://127.0.0.1:6400';
  st.parts = [
    rec({ redisUrl: st.redisUrl, database: 'embedded' }),
    rec({ name: 'agent', pid: 43, address: 'local' }),
  ];
  t.deepEqual(parseStackState(serializeStackState(st)), st);
  const twice = JSON.stringify({ parts: [rec(), rec({ pid: 99 })] });
  t.deepEqual(
    parseStackState(twice).parts.map((p) => p.pid),
    [99],
  );
});

test('the address pool octet is stable per folder and clear of the test engines', (t) => {
  t.is(poolOctetFor('/home/a/.bai'), poolOctetFor('/home/a/.bai'));
  for (const dir of ['/a', '/b/.bai', '/tmp/x/y', '/root/project/.bai']) {
    const o = poolOctetFor(dir);
    t.true(o >= 100 && o < 150, `${dir}: ${o}`);
  }
});

test('maskUrl hides a password only', (t) => {
  t.is(maskUrl('postgres://bai:s3cret@db:5432/bai'), 'postgres://bai:***@db:5432/bai');
  t.is(maskUrl('postgres://bai@db/bai'), 'postgres://bai@db/bai');
  t.is(maskUrl('redis://:pw@127.0.0.1:6379'), 'redis://:***@127.0.0.1:6379');
});
