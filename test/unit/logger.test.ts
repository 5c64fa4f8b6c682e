import test from 'ava';
import { Writable } from 'node:stream';
import { acceptedRequestId } from '../../src/api/request-context.js';
import { jsonLogger, withContext } from '../../src/log/logger.js';
import { formatLine } from '../../src/log/pretty.js';

function capture(tty = false): { out: Writable; lines: () => string[] } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  if (tty) (out as Writable & { isTTY: boolean }).isTTY = true;
  return { out, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

test('JSON lines: level, time, component, msg, context; children carry their bindings', (t) => {
  const { out, lines } = capture();
  const log = jsonLogger(out, 'manager');
  withContext(withContext(log, { requestId: 'r1' }), { sessionId: 's1' }).info('hello', { n: 1 });
  log.error('bad');
  const [a, b] = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  t.like(a, { level: 'info', component: 'manager', msg: 'hello', requestId: 'r1', sessionId: 's1', n: 1 });
  t.false(Number.isNaN(Date.parse(String(a!.time))));
  t.like(b, { level: 'error', msg: 'bad' });
});

test('secrets are redacted wherever the known fields sit', (t) => {
  const { out, lines } = capture();
  const log = jsonLogger(out, 'agent');
  log.info('job', {
    environ: { TOKEN: 'S1' },
    job: { environ: { X: 'S2' }, registryAuth: { username: 'u', password: 'S3' } },
    headers: { authorization: 'Bearer S4' },
    req: { headers: { authorization: 'S5' } },
    secretKey: 'S6',
    keypair: { secret_key: 'S7' },
    token: 'S8',
    password: 'S9',
  });
  const text = lines().join('\n');
  for (const s of ['S1', 'S2', 'S3', 'S4', 'S5', 'S6', 'S7', 'S8', 'S9']) t.false(text.includes(`"${s}`), s);
  t.true(text.includes('[redacted]'));
});

test('a TTY gets readable lines', (t) => {
  const { out, lines } = capture(true);
  jsonLogger(out, 'agent').info('agent started', { agentId: 'a1', slots: { cpu: 2 } });
  t.regex(lines()[0]!, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}agent agent started agentId=a1 slots=\{"cpu":2\}$/);
  t.is(formatLine('not json'), 'not json\n');
});

test('X-Request-Id: tame ones are kept, others replaced', (t) => {
  t.is(acceptedRequestId('abc-123_x.y:z'), 'abc-123_x.y:z');
  t.is(acceptedRequestId(undefined), null);
  t.is(acceptedRequestId(''), null);
  t.is(acceptedRequestId('has space'), null);
  t.is(acceptedRequestId('x'.repeat(129)), null);
  t.is(acceptedRequestId('a"b'), null);
});
