import test from 'ava';
import { Writable } from 'node:stream';
import { jsonLogger, withContext } from '../../src/log/logger.js';
import { CENSOR, SECRET_FIELDS, redacted } from '../../src/log/redact.js';

test('a context without secrets is passed on as it is', (t) => {
  const ctx = { sessionId: 's1', slots: { cpu: 2 }, list: [1, { a: 'b' }] };
  t.is(redacted(ctx), ctx);
});

test('every secret field is censored at the top, one and two levels down', (t) => {
  for (const field of SECRET_FIELDS) {
    const r = redacted({ [field]: 'S0', a: { [field]: 'S1', b: { [field]: 'S2' } } });
    t.deepEqual(r, { [field]: CENSOR, a: { [field]: CENSOR, b: { [field]: CENSOR } } }, field);
  }
});

test('the caller’s objects are copied on the way to a secret, never changed', (t) => {
  const inner = { authorization: 'Bearer S' };
  const other = { n: 1 };
  const ctx = { req: { headers: inner, other }, id: 'x' };
  const r = redacted(ctx);
  t.is(inner.authorization, 'Bearer S');
  t.not(r, ctx);
  t.not(r.req, ctx.req);
  t.is(r.req.other, other); // what holds no secret is shared, not copied
  t.deepEqual(r, { req: { headers: { authorization: CENSOR }, other }, id: 'x' });
});

test('arrays are looked into; a Buffer, a Date or an Error is left alone', (t) => {
  const list = [{ token: 'S' }, 'plain'];
  const r = redacted({ jobs: list });
  t.deepEqual(r, { jobs: [{ token: CENSOR }, 'plain'] });
  t.deepEqual(list, [{ token: 'S' }, 'plain']);
  const buf = Buffer.from('token');
  const when = new Date(0);
  const err = Object.assign(new Error('x'), { token: 'kept by its serializer' });
  const ctx = { buf, when, err };
  t.is(redacted(ctx), ctx);
});

test('a secret field without a value stays without one', (t) => {
  const ctx = { token: undefined, n: 1 };
  t.is(redacted(ctx), ctx);
  t.deepEqual(redacted({ token: null }), { token: CENSOR });
});

test('below three levels nothing is looked at; scalars pass', (t) => {
  const deep = { a: { b: { c: { token: 'S' } } } };
  t.is(redacted(deep), deep);
  t.is(redacted('token'), 'token');
  t.is(redacted(null), null);
  t.is(redacted(undefined), undefined);
});

test('the logger censors lines and a child’s bindings alike', (t) => {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  const log = jsonLogger(out, 'agent');
  withContext(log, { token: 'B1', job: { environ: { K: 'B2' } } }).info('child', { password: 'B3' });
  log.info('plain', { sessionId: 's1' });
  const [a, b] = chunks
    .join('')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  t.like(a, { msg: 'child', token: CENSOR, job: { environ: CENSOR }, password: CENSOR });
  t.like(b, { msg: 'plain', sessionId: 's1', component: 'agent' });
  t.false(chunks.join('').includes('B1') || chunks.join('').includes('B2') || chunks.join('').includes('B3'));
});
