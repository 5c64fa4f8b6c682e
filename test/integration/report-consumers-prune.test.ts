import { randomBytes } from 'node:crypto';
import test from 'ava';
import { reportStreamKey } from '../../src/queue/names.js';
import type { Report } from '../../src/queue/payloads.js';
import { openRedis } from '../../src/queue/redis.js';
import { REPORTS_GROUP } from '../../src/queue/report-entry.js';
import { ensureReportsGroup, pruneIdleConsumers } from '../../src/queue/report-stream.js';
import { testEnv } from '../helpers/env.js';
import { sendReport } from '../helpers/reports.js';

/**
 * Each manager start is a new consumer in every agent's reports group; the claim pass deletes
 * the idle ones, but only those with nothing pending (XGROUP DELCONSUMER would drop a consumer's
 * pending entries, and with them reports nobody applied).
 */
const redis = openRedis(testEnv().redisUrl);
test.after.always(() => redis.disconnect());

function consumers(key: string): Promise<Record<string, number>> {
  return redis.xinfo('CONSUMERS', key, REPORTS_GROUP).then((rows) => {
    const out: Record<string, number> = {};
    for (const r of rows as (string | number)[][])
      out[String(r[r.indexOf('name') + 1])] = Number(r[r.indexOf('pending') + 1]);
    return out;
  });
}

test('idle consumers with nothing pending are deleted; one with a pending report and the caller stay', async (t) => {
  const prefix = `prune-${randomBytes(4).toString('hex')}`;
  const agentId = 'agent-1';
  const key = reportStreamKey(prefix, agentId);
  await ensureReportsGroup(redis, prefix, agentId);
  const started: Report = {
    name: 'agent-started',
    data: { agentId, scalingGroup: 'default', slots: {}, version: 't', addr: '', architecture: 'x86_64' },
  };
  for (const id of ['r1', 'r2']) await sendReport(redis, prefix, agentId, started, id);
  const read = (consumer: string) =>
    redis.call('XREADGROUP', 'GROUP', REPORTS_GROUP, consumer, 'COUNT', 1, 'STREAMS', key, '>') as Promise<
      [string, [string, string[]][]][]
    >;
  // "busy" holds the first report unapplied; "done" read and acknowledged the second; "self" only exists.
  await read('busy');
  const second = await read('done');
  await redis.xack(key, REPORTS_GROUP, second[0]![1][0]![0]);
  await redis.call('XGROUP', 'CREATECONSUMER', key, REPORTS_GROUP, 'self');
  t.deepEqual(await consumers(key), { busy: 1, done: 0, self: 0 });

  t.is(await pruneIdleConsumers(redis, key, 3_600_000, 'self'), 0, 'none idle for an hour');
  t.deepEqual(await consumers(key), { busy: 1, done: 0, self: 0 });

  t.is(await pruneIdleConsumers(redis, key, 0, 'self'), 1);
  t.deepEqual(await consumers(key), { busy: 1, self: 0 });
  const pending = (await redis.xpending(key, REPORTS_GROUP)) as [number, ...unknown[]];
  t.is(pending[0], 1, 'the unapplied report is still pending');

  t.is(await pruneIdleConsumers(redis, `${key}-none`, 0, 'self'), 0, 'no stream: nothing to do');
  await redis.del(key);
});
