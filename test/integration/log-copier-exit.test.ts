import test from 'ava';
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { LogTail } from '../../src/docker/docker-adapter.js';
import { logStreamKey } from '../../src/queue/names.js';
import { openRedis } from '../../src/queue/redis.js';
import type { AgentContext } from '../../src/workers/agent/agent-context.js';
import { LogCopier, finishLogs } from '../../src/workers/agent/log-copier.js';
import { newTracked } from '../../src/workers/agent/tracked.js';
import { testEnv } from '../helpers/env.js';
import { eventually } from '../helpers/eventually.js';
import { quietLog } from '../helpers/stack.js';

// The live output copy at a container's exit (finishLogs), on the test Redis. The engine's
// follow stream is one the test holds open: a real engine ends it some milliseconds after the
// exit, whenever it does, and what is tested is what the agent does before it has. The paths
// through a real engine are the logs, logs-follow and cli-run tests.

const redis = openRedis(testEnv().redisUrl);
test.after.always(() => redis.disconnect());

const LIMITS = { maxBytes: 1 << 20, maxEntries: 1000, ttlMs: 60_000 };

function setUp(stored: string) {
  const prefix = `copier-${randomUUID().slice(0, 8)}`;
  const kernelId = randomUUID();
  const engine = new PassThrough();
  let stopped = 0;
  const follow = {
    stream: engine,
    stop: () => {
      stopped++;
      engine.destroy();
    },
  };
  const log = quietLog;
  const copier = new LogCopier(redis, prefix, 'a1', kernelId, LIMITS, follow, log, 0);
  const tracked = newTracked(randomUUID(), 1, null, 'running');
  tracked.copier = copier;
  tracked.stopLogs = () => copier.stop();
  const tail: LogTail = { text: stored, bytes: Buffer.byteLength(stored), truncated: false };
  const ctx = {
    redis,
    log,
    config: {
      id: 'a1',
      queuePrefix: prefix,
      logLimitBytes: 1 << 20,
      logStreamBytes: LIMITS.maxBytes,
      logStreamEntries: LIMITS.maxEntries,
    },
    docker: { logTail: () => Promise.resolve(tail) },
  } as unknown as AgentContext;
  const live = async () =>
    (await redis.xrange(logStreamKey(prefix, 'a1', kernelId), '-', '+'))
      .map(([, f]) => f[f.indexOf('d') + 1])
      .join('');
  return { engine, copier, tracked, ctx, kernelId, live, stopped: () => stopped };
}

test('a copy that holds the whole output does not wait for the engine to end its stream', async (t) => {
  const s = setUp('hello\n');
  s.engine.write('hello\n');
  await eventually(() => s.copier.appended === 6, { message: 'the line copied' });
  const out = await finishLogs(s.ctx, s.tracked, { kernelId: s.kernelId, containerId: 'c' });
  // Answered with the stream still open: nothing waited for its end, nor stopped it.
  t.false(s.engine.writableEnded);
  t.is(s.stopped(), 0);
  t.deepEqual(out, { logs: 'hello\n', truncated: false, totalBytes: 6 });
  t.is(await s.live(), 'hello\n');
  // The engine ends it later: the copy ends with it, holding the line once.
  s.engine.end();
  await s.copier.done;
  t.is(await s.live(), 'hello\n');
});

test('a copy that does not hold it all yet waits for the stream to end', async (t) => {
  const s = setUp('hello\nworld\n');
  s.engine.write('hello\n');
  await eventually(() => s.copier.appended === 6, { message: 'the first line copied' });
  let answered = false;
  const finishing = finishLogs(s.ctx, s.tracked, { kernelId: s.kernelId, containerId: 'c' }).then((out) => {
    answered = true;
    return out;
  });
  // The last line is still on its way: no answer comes before the stream gives it (three
  // round trips to Redis after the call, more than an answer would need).
  for (let i = 0; i < 3; i++) await redis.ping();
  t.false(answered);
  s.engine.end('world\n');
  const out = await finishing;
  t.deepEqual(out, { logs: 'hello\nworld\n', truncated: false, totalBytes: 12 });
  t.is(await s.live(), 'hello\nworld\n');
});

test('an empty output with a copy open is answered with its stream still open', async (t) => {
  const s = setUp('');
  const out = await finishLogs(s.ctx, s.tracked, { kernelId: s.kernelId, containerId: 'c' });
  t.false(s.engine.writableEnded);
  t.is(s.stopped(), 0);
  t.deepEqual(out, { logs: '', truncated: false, totalBytes: 0 });
  s.engine.end();
  await s.copier.done;
  t.is(await s.live(), '');
});
