import test from 'ava';
import { parseCreateSessionBody } from '../../src/domain/session-request.js';
import { InvalidRequest } from '../../src/domain/errors.js';

const now = new Date('2026-09-01T00:00:00Z');

test('camelCase and snake_case fold into one request', (t) => {
  const a = parseCreateSessionBody(
    {
      name: 'job-1',
      image: 'python',
      sessionType: 'batch',
      startupCommand: 'true',
      enqueueOnly: true,
      clusterSize: 2,
      config: { scalingGroup: 'g', mountMap: { d: 'x' } },
    },
    now,
  );
  const b = parseCreateSessionBody(
    {
      session_name: 'job-1',
      image: 'python',
      session_type: 'batch',
      startup_command: 'true',
      enqueue_only: true,
      cluster_size: 2,
      config: { scaling_group: 'g', mount_map: { d: 'x' } },
    },
    now,
  );
  t.deepEqual(a, b);
  t.is(a.type, 'batch');
  t.is(a.clusterSize, 2);
  t.deepEqual(a.mounts, ['d']);
});

test('the archived Python client body, with nulls for every unset field, is accepted', (t) => {
  const r = parseCreateSessionBody(
    {
      tag: null,
      clientSessionToken: 'job-2',
      image: 'python',
      type: 'batch',
      starts_at: '10min',
      enqueueOnly: false,
      maxWaitSeconds: 0,
      reuseIfExists: true,
      startupCommand: 'echo hi',
      owner_access_key: null,
      domain: 'default',
      group: 'default',
      bootstrap_script: null,
      dependencies: null,
      callback_url: null,
      clusterSize: 1,
      clusterMode: 'single-node',
      config: {
        mounts: null,
        environ: null,
        scalingGroup: null,
        resources: {},
        resource_opts: {},
        mount_map: {},
        preopen_ports: null,
      },
    },
    now,
  );
  t.is(r.name, 'job-2');
  t.is(r.startsAt?.toISOString(), '2026-09-01T00:10:00.000Z');
  t.deepEqual(r.dependencies, []);
});

test('a batch session without a startup command is refused', (t) => {
  const e = t.throws(() => parseCreateSessionBody({ image: 'python', type: 'batch' }, now), {
    instanceOf: InvalidRequest,
  });
  t.regex(e!.message, /startup_command/);
});

test('starts_at and batch_timeout are for batch sessions only', (t) => {
  t.throws(() => parseCreateSessionBody({ image: 'python', starts_at: '1h' }, now), {
    instanceOf: InvalidRequest,
  });
  t.throws(() => parseCreateSessionBody({ image: 'python', batch_timeout: '1h' }, now), {
    instanceOf: InvalidRequest,
  });
});

test('bad names, types and values say which field', (t) => {
  const cases: [unknown, RegExp][] = [
    [{ image: 'python', name: 'a' }, /name/],
    [{ image: 'python', name: 'bad name!' }, /name/],
    [{ image: 42 }, /image/],
    [{ image: 'python', type: 'weird' }, /type/],
    [{ image: 'python', priority: 101 }, /priority/],
    [{ image: 'python', clusterSize: 0 }, /cluster_size/],
    [{ image: 'python', config: { environ: { 'BAD-NAME': 'x' } } }, /environ/],
    [{ image: 'python', config: { environ: { K: { nested: 1 } } } }, /environ/],
    [{ image: 'python', callback_url: 'ftp://x' }, /callback_url/],
    [{ image: 'python', dependencies: 'abc' }, /dependencies/],
    [[1, 2], /object/],
    [null, /object/],
  ];
  for (const [body, re] of cases) {
    const e = t.throws(() => parseCreateSessionBody(body, now), { instanceOf: InvalidRequest });
    t.regex(e!.message, re);
  }
});

test('retry policy defaults', (t) => {
  const r = parseCreateSessionBody(
    { image: 'python', type: 'batch', startupCommand: 'x', retry: { max_attempts: 3 } },
    now,
  );
  t.deepEqual(r.retry, {
    maxAttempts: 3,
    backoff: 'exponential',
    delaySeconds: 1,
    on: ['agent-lost', 'image-pull-failed'],
  });
});
