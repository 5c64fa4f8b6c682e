import test from 'ava';
import { createHash, createHmac } from 'node:crypto';
import {
  bareMimetype,
  parseAuthorization,
  sign,
  signingDay,
  stringToSign,
} from '../../src/domain/signing.js';

const input = {
  method: 'GET',
  pathWithQuery: '/session/job-1?owner_access_key=AK',
  date: '2026-08-22T05:14:19.123456+00:00',
  host: '127.0.0.1:8091',
  contentType: 'text/plain; charset=utf-8',
  apiVersion: 'v6.20220315',
};

test('the string to sign follows Backend.AI: method, path, date, host, bare mimetype, version, empty-body hash', (t) => {
  const emptyHash = createHash('sha256').update('').digest('hex');
  t.is(
    stringToSign(input),
    `GET\n/session/job-1?owner_access_key=AK\n2026-08-22T05:14:19.123456+00:00\nhost:127.0.0.1:8091\ncontent-type:text/plain\nx-backendai-version:v6.20220315\n${emptyHash}`,
  );
});

test('the key is derived from the date (in its own timezone) and the host', (t) => {
  const k1 = createHmac('sha256', 'secret').update('20260822').digest();
  const k2 = createHmac('sha256', k1).update('127.0.0.1:8091').digest();
  const expected = createHmac('sha256', k2).update(stringToSign(input)).digest('hex');
  t.is(sign('secret', input), expected);
  t.is(signingDay('2026-08-22T23:30:00-09:00'), '20260822');
  t.is(signingDay('Sat, 22 Aug 2026 05:14:19 GMT'), '20260822');
});

test('a missing content type counts as application/octet-stream', (t) => {
  t.is(bareMimetype(undefined), 'application/octet-stream');
  t.is(bareMimetype('Application/JSON; charset=UTF-8'), 'application/json');
});

test('Authorization headers parse, also with the old Sorna word', (t) => {
  t.deepEqual(parseAuthorization('BackendAI signMethod=HMAC-SHA256, credential=AKIA1:abcDEF01'), {
    signMethod: 'HMAC-SHA256',
    hash: 'sha256',
    accessKey: 'AKIA1',
    signature: 'abcdef01',
  });
  t.truthy(parseAuthorization('Sorna signMethod=HMAC-SHA256, credential=AK:00'));
  t.is(parseAuthorization('Basic dXNlcg=='), null);
  t.is(parseAuthorization('BackendAI signMethod=HMAC-SHA256'), null);
});
