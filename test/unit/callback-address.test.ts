import test from 'ava';
import { CallbackAllowList, classifyAddress, refusalOf } from '../../src/domain/callback-address.js';

test('addresses inside the network are classified, in every spelling', (t) => {
  const cases: [string, string][] = [
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['::ffff:192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['2606:4700::1111', 'public'],
    ['not-an-ip', 'invalid'],
    ['1.2.3', 'invalid'],
    ['1:2:3', 'invalid'],
  ];
  for (const [ip, cls] of cases) t.is(classifyAddress(ip) as string, cls, ip);
});

test('the odd encodings WHATWG URL folds into 127.0.0.1 and ::1 are refused', (t) => {
  const none = new CallbackAllowList([]);
  for (const raw of [
    'http://0x7f000001/',
    'http://2130706433/',
    'http://127.1/',
    'http://0177.0.0.1/',
    'http://[::1]/',
    'http://[::ffff:127.0.0.1]/',
    'http://[0:0:0:0:0:0:0:1]/',
  ]) {
    const u = new URL(raw);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    t.not(refusalOf(host, 80, host, none), null, raw);
  }
});

test('the allow-list names hosts, addresses and ranges, optionally with a port', (t) => {
  const allow = new CallbackAllowList([
    '127.0.0.1:8080',
    '10.0.0.0/8',
    'hooks.internal',
    '[::1]:9000',
    'bad/x',
  ]);
  t.deepEqual(allow.invalid, ['bad/x']);
  t.is(refusalOf('127.0.0.1', 8080, '127.0.0.1', allow), null);
  t.regex(refusalOf('127.0.0.1', 8081, '127.0.0.1', allow)!, /loopback/);
  t.is(refusalOf('x', 80, '10.9.8.7', allow), null);
  t.is(refusalOf('hooks.internal', 443, '192.168.0.5', allow), null);
  t.regex(refusalOf('other.internal', 443, '192.168.0.5', allow)!, /private/);
  t.is(refusalOf('::1', 9000, '::1', allow), null);
  t.regex(refusalOf('::1', 9001, '::1', allow)!, /loopback/);
  t.is(refusalOf('example.com', 443, '93.184.216.34', new CallbackAllowList([])), null);
  t.regex(refusalOf('metadata', 80, '169.254.169.254', new CallbackAllowList([]))!, /link-local/);
});
