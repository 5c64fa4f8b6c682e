import test from 'ava';
import { databaseUrlOf } from '../../src/config/config.js';
import { agentKeyPatterns, agentRedisUrl, checkAgentId } from '../../src/queue/agent-acl.js';
import { agentQueueName } from '../../src/queue/names.js';
import { parseSentinelUrl } from '../../src/queue/redis.js';

test('a Sentinel URL: sentinels, master name, credentials, TLS, sentinel password', (t) => {
  t.deepEqual(parseSentinelUrl('redis+sentinel://u:p%40ss@s1:26379,10.0.0.2:26380,s3/bai-redis'), {
    tls: false,
    sentinels: [
      { host: 's1', port: 26379 },
      { host: '10.0.0.2', port: 26380 },
      { host: 's3', port: 26379 },
    ],
    name: 'bai-redis',
    username: 'u',
    password: 'p@ss',
    sentinelUsername: null,
    sentinelPassword: null,
    db: 0,
  });
  const tls = parseSentinelUrl('rediss+sentinel://s1:26379/m/2?sentinelPassword=x&sentinelUsername=y');
  t.like(tls, { tls: true, name: 'm', db: 2, sentinelPassword: 'x', sentinelUsername: 'y', username: null });
  t.is(parseSentinelUrl('redis://127.0.0.1:6379'), null);
  t.is(parseSentinelUrl('rediss://127.0.0.1:6379'), null);
  t.throws(() => parseSentinelUrl('redis+sentinel://s1:26379'), { message: /master-name/ });
});

test('an agent URL carries its user and password, for every form of the admin URL', (t) => {
  const user = { username: 'bai-agent-a1', password: 'p/w+=', saved: false };
  t.is(agentRedisUrl('redis://127.0.0.1:6379', user), 'redis://bai-agent-a1:p%2Fw%2B%3D@127.0.0.1:6379');
  t.is(
    agentRedisUrl('rediss://default:admin@db1:6380/0', user),
    'rediss://bai-agent-a1:p%2Fw%2B%3D@db1:6380/0',
  );
  t.is(
    agentRedisUrl('redis+sentinel://default:admin@s1:26379,s2:26379/bai', user),
    'redis+sentinel://bai-agent-a1:p%2Fw%2B%3D@s1:26379,s2:26379/bai',
  );
  const parsed = parseSentinelUrl(agentRedisUrl('redis+sentinel://s1:26379/bai', user));
  t.like(parsed, { username: 'bai-agent-a1', password: 'p/w+=' });
});

test('an agent may have only its own keys, and only glob-free ids', (t) => {
  t.deepEqual(agentKeyPatterns('bai', 'host-1.a'), [
    'bai:*/agent-host-1.a:*',
    'bai:reports-host-1.a:*',
    'bai:heartbeat:host-1.a',
    'bai:superseded:host-1.a',
    'bai:logs:host-1.a:*',
  ]);
  for (const bad of ['*', 'a?', 'a[1]', 'a b', 'a:b', 'a/b', ''])
    t.throws(() => checkAgentId(bad), { message: /agent id/ }, bad);
});

test("an agent's queue is named after its scaling group and id; no two pairs share a name", (t) => {
  t.is(agentQueueName('default', 'a1'), 'default/agent-a1');
  t.is(agentQueueName('gpu:a100', 'h.2'), 'gpu%3Aa100/agent-h.2');
  const pairs: [string, string][] = [
    ['g', 'a-b'],
    ['g-a', 'b'],
    ['g.a', 'b'],
    ['g', 'a.b'],
    ['g:a', 'b'],
    ['g%3Aa', 'b'],
  ];
  const names = pairs.map(([g, a]) => agentQueueName(g, a));
  t.is(new Set(names).size, pairs.length, names.join(' '));
  for (const n of names) t.false(n.includes(':'), `BullMQ forbids ':' in ${n}`);
});

test("an agent's ACL queue pattern matches its own queue in any group and no other agent's", (t) => {
  const [pattern] = agentKeyPatterns('bai', 'a');
  const glob = new RegExp(`^${pattern!.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  t.true(glob.test(`bai:${agentQueueName('default', 'a')}:wait`));
  t.true(glob.test(`bai:${agentQueueName('gpu:x', 'a')}:run-1`));
  for (const [g, id] of [
    ['default', 'b'],
    ['default', 'ab'],
    ['default', 'a.b'],
    ['a', 'b'],
  ])
    t.false(glob.test(`bai:${agentQueueName(g!, id!)}:wait`), `${g}/${id}`);
});

test('BAI_DATABASE_CA_FILE becomes sslrootcert, verify-full unless a mode is named', (t) => {
  t.is(databaseUrlOf({}), null);
  t.is(databaseUrlOf({ DATABASE_URL: 'postgres://h/db' }), 'postgres://h/db');
  t.is(
    databaseUrlOf({ DATABASE_URL: 'postgres://h/db', BAI_DATABASE_CA_FILE: '/etc/bai/ca.crt' }),
    'postgres://h/db?sslrootcert=%2Fetc%2Fbai%2Fca.crt&sslmode=verify-full',
  );
  t.is(
    databaseUrlOf({ DATABASE_URL: 'postgres://h/db?sslmode=verify-ca', BAI_DATABASE_CA_FILE: '/ca' }),
    'postgres://h/db?sslmode=verify-ca&sslrootcert=%2Fca',
  );
  t.is(
    databaseUrlOf({ DATABASE_URL: 'postgres://h/db?sslrootcert=/x', BAI_DATABASE_CA_FILE: '/ca' }),
    'postgres://h/db?sslrootcert=/x',
  );
});
