import test from 'ava';
import { isRetrySafe } from '../../src/cli/client.js';
import { idempotencyHeaders } from '../../src/cli/session-options.js';
import { loadManagerConfig } from '../../src/config/config.js';
import { IdempotencyKeyConflict, InvalidRequest } from '../../src/domain/errors.js';
import {
  canonicalJson,
  checkSameRequest,
  DEFAULT_IDEMPOTENCY_RETENTION_SECONDS,
  idempotencyKeyOf,
  idempotentRequestOf,
  requestHashOf,
} from '../../src/domain/idempotency.js';

test('the key comes from the header or the body field (either spelling); none is null', (t) => {
  t.is(idempotencyKeyOf({ image: 'python' }, undefined), null);
  t.is(idempotencyKeyOf({ image: 'python', idempotencyKey: null }, undefined), null);
  t.is(idempotencyKeyOf({}, 'cron-2026-11-29'), 'cron-2026-11-29');
  t.is(idempotencyKeyOf({ idempotencyKey: 'k1' }, undefined), 'k1');
  t.is(idempotencyKeyOf({ idempotency_key: 'k1' }, undefined), 'k1');
  t.is(idempotencyKeyOf({ idempotencyKey: 'k1' }, 'k1'), 'k1', 'both, the same: fine');
  t.is(idempotencyKeyOf([1, 2], 'k'), 'k', 'a body that is no object has no key field');
});

test('a key given twice and differently, or a bad key, is a 400 naming it', (t) => {
  const both = t.throws(() => idempotencyKeyOf({ idempotencyKey: 'a' }, 'b'), { instanceOf: InvalidRequest });
  t.is(both?.status, 400);
  t.regex(both!.message, /header and the idempotencyKey field differ/);
  t.regex(t.throws(() => idempotencyKeyOf({}, ''))!.message, /Idempotency-Key must not be empty/);
  t.regex(t.throws(() => idempotencyKeyOf({}, '   '))!.message, /must not be empty/);
  t.regex(
    t.throws(() => idempotencyKeyOf({ idempotencyKey: 7 }, undefined))!.message,
    /idempotencyKey must be a string/,
  );
  t.regex(t.throws(() => idempotencyKeyOf({}, 'x'.repeat(256)))!.message, /longer than 255/);
  t.is(idempotencyKeyOf({}, 'x'.repeat(255)), 'x'.repeat(255));
  t.regex(
    t.throws(() => idempotencyKeyOf({ idempotencyKey: 'a\nb' }, undefined))!.message,
    /printable.*U\+000A/,
  );
  t.regex(t.throws(() => idempotencyKeyOf({}, 'a\u202eb'))!.message, /U\+202E/);
});

test('the same request in another key order, with nulls or with its key field hashes the same', (t) => {
  const a = {
    image: 'python',
    type: 'batch',
    config: { environ: { A: '1', B: '2' } },
    dependencies: ['x', 'y'],
  };
  const b = {
    dependencies: ['x', 'y'],
    config: { environ: { B: '2', A: '1' } },
    type: 'batch',
    image: 'python',
  };
  t.is(requestHashOf(a), requestHashOf(b));
  t.is(requestHashOf(a), requestHashOf({ ...b, tag: null, idempotencyKey: 'k', idempotency_key: 'k' }));
  t.regex(requestHashOf(a), /^[0-9a-f]{64}$/);
  // What differs in what it asks is another request.
  t.not(requestHashOf(a), requestHashOf({ ...a, dependencies: ['y', 'x'] }), 'list order counts');
  t.not(requestHashOf(a), requestHashOf({ ...a, config: { environ: { A: '1', B: '3' } } }));
  t.not(requestHashOf({ startupCommand: 'x' }), requestHashOf({ startup_command: 'x' }), 'spellings differ');
  t.not(requestHashOf({ priority: 1 }), requestHashOf({ priority: '1' }));
  t.is(canonicalJson({ b: [1, null, { d: 1, c: 'x' }], a: true }), '{"a":true,"b":[1,null,{"c":"x","d":1}]}');
});

test('a key found again: the same request answers its session, another one is a 422 carrying it', (t) => {
  const req = idempotentRequestOf({ image: 'python' }, 'k')!;
  t.is(checkSameRequest(req, { request_hash: req.requestHash, session_id: 's1' }), 's1');
  const other = idempotentRequestOf({ image: 'python', tag: 'x' }, 'k')!;
  const err = t.throws(() => checkSameRequest(other, { request_hash: req.requestHash, session_id: 's1' }), {
    instanceOf: IdempotencyKeyConflict,
  });
  t.is(err?.status, 422);
  t.is(err?.code, 'idempotency-key-conflict');
  t.deepEqual(err?.data, { sessionId: 's1', idempotencyKey: 'k' });
  t.is(idempotentRequestOf({ image: 'python' }, undefined), null);
});

test('the retention is a manager setting in seconds, 7 days by default', (t) => {
  t.is(DEFAULT_IDEMPOTENCY_RETENTION_SECONDS, 604_800);
  t.is(loadManagerConfig({}).idempotencyRetentionSeconds, 604_800);
  t.is(loadManagerConfig({ BAI_IDEMPOTENCY_RETENTION_SECONDS: '3600' }).idempotencyRetentionSeconds, 3600);
  t.throws(() => loadManagerConfig({ BAI_IDEMPOTENCY_RETENTION_SECONDS: 'week' }), {
    message: /BAI_IDEMPOTENCY_RETENTION_SECONDS must be a number/,
  });
});

test('the CLI retries a create only when it carries an Idempotency-Key', (t) => {
  t.true(isRetrySafe('GET', '/sessions', {}));
  t.true(isRetrySafe('DELETE', '/session/x', {}));
  t.false(isRetrySafe('POST', '/session', {}));
  t.true(isRetrySafe('POST', '/session', { 'Idempotency-Key': 'k' }));
  t.true(isRetrySafe('POST', '/session/_/create', { 'idempotency-key': 'k' }));
  t.false(isRetrySafe('POST', '/folders', { 'Idempotency-Key': 'k' }), 'only the creates that honour it');
  t.false(isRetrySafe('PATCH', '/session', { 'Idempotency-Key': 'k' }));
  t.deepEqual(idempotencyHeaders(undefined), {});
  t.deepEqual(idempotencyHeaders('ci-42'), { 'Idempotency-Key': 'ci-42' });
  t.throws(() => idempotencyHeaders('caf\u00e9'), { message: /printable ASCII/ });
});
