import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../../src/cli/client.js';
import { openRedis } from '../../src/queue/redis.js';
import { bai, spawnBai } from '../helpers/cli.js';
import { testEnv } from '../helpers/env.js';
import { eventually } from '../helpers/eventually.js';
import { makeFolder } from '../helpers/folders.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

// Live output is pushed: a follower's read blocks in the manager (XREAD BLOCK on the agent's
// live copy) until the agent appends, and a follower that goes away releases its reader and
// the Redis connection it holds.

let stack: TestStack;
const redis = openRedis(testEnv().redisUrl);
let gates: string;
test.before(async () => {
  stack = await startTestStack({ agents: 1 });
  gates = await makeFolder(stack.client, stack.agentConfig(1).storageRoot, 'push-gates');
});
test.after.always(async () => {
  await stack?.close();
  redis.disconnect();
});

/** This stack's manager's blocked log readers, as Redis sees their connections. */
async function readerConnections(): Promise<number> {
  const list = await redis.client('LIST');
  return String(list)
    .split('\n')
    .filter((l) => l.includes(` name=${stack.prefix}:log-reader `)).length;
}

test.serial('bai run prints each line before the job prints the next, from a blocked read', async (t) => {
  // Order, not speed: the job prints line N, then waits for gate N, which the test opens only
  // once line N reached bai run's stdout and bai run is blocked in the manager on the next.
  let stdout = '';
  const run = bai(
    stack,
    [
      'run',
      '-v',
      'push-gates=/gates',
      '-c',
      'import os, time\nfor i in (1, 2, 3):\n    print(f"line-{i}", flush=True)\n' +
        '    while not os.path.exists(f"/gates/go-{i}"):\n        time.sleep(0.05)\n',
      'python',
    ],
    { onStdout: (text) => (stdout += text) },
  );
  let ended = false;
  void run.finally(() => (ended = true));
  for (const i of [1, 2, 3]) {
    await eventually(() => stdout.includes(`line-${i}\n`) || ended, {
      message: () => `line-${i} on bai run's stdout (has ${JSON.stringify(stdout)})`,
    });
    t.false(ended, `bai run ended before line-${i}: ${stdout}`);
    t.false(stdout.includes(`line-${i + 1}`));
    // The follower now waits in the manager for what comes next, on a reader of its own.
    await eventually(async () => stack.manager.logWaiters.active >= 1 && (await readerConnections()) >= 1, {
      message: `a blocked reader for line-${i + 1}`,
    });
    writeFileSync(join(gates, `go-${i}`), '');
  }
  const r = await run;
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'line-1\nline-2\nline-3\n');
  await eventually(() => stack.manager.logWaiters.active === 0, { message: 'no reader left' });
});

test.serial('a follower that goes away releases its blocked reader and its connection', async (t) => {
  const made = await stack.client.request<{ sessionId: string }>(
    'POST',
    '/session',
    batch(`python3 -c 'import time; print("up", flush=True); time.sleep(600)'`),
  );
  const id = made.sessionId;
  try {
    await waitForStatus(stack.client, id, ['RUNNING']);
    let seen = '';
    const first = await eventually(
      async () => {
        const r = await stack.client.request<{ result: { logs: string; cursor: string } }>(
          'GET',
          `/session/${id}/logs`,
          undefined,
          { after: '0' },
        );
        seen = r.result.logs;
        return r.result.logs === 'up\n' ? r.result : null;
      },
      { message: () => `"up" in the live copy (has ${JSON.stringify(seen)})` },
    );
    // wait_ms is checked.
    const bad = await t.throwsAsync(
      stack.client.request('GET', `/session/${id}/logs`, undefined, { after: '0', wait_ms: '-1' }),
    );
    t.is((bad as ApiError).status, 400);

    // A raw read that its client aborts while it is blocked.
    const abort = new AbortController();
    const pending = stack.client
      .raw(
        'GET',
        `/session/${id}/logs`,
        undefined,
        { after: first.cursor, wait_ms: '20000' },
        {},
        abort.signal,
      )
      .then(
        () => 'answered',
        () => 'aborted',
      );
    await eventually(async () => stack.manager.logWaiters.active === 1 && (await readerConnections()) === 1, {
      message: 'the read blocked in the manager',
    });
    abort.abort();
    t.is(await pending, 'aborted');
    await eventually(async () => stack.manager.logWaiters.active === 0 && (await readerConnections()) === 0, {
      message: 'the aborted read released',
    });

    // `bai session logs -f` killed outright while it follows.
    const { child, output, exited } = spawnBai(stack, ['session', 'logs', '-f', id]);
    await eventually(
      async () =>
        output.stdout === 'up\n' &&
        stack.manager.logWaiters.active === 1 &&
        (await readerConnections()) === 1,
      { message: () => `logs -f printed "up" and blocked (printed ${JSON.stringify(output.stdout)})` },
    );
    child.kill('SIGKILL');
    await exited;
    await eventually(async () => stack.manager.logWaiters.active === 0 && (await readerConnections()) === 0, {
      message: 'the killed follower released',
    });
  } finally {
    await stack.client.request('DELETE', `/session/${id}`).catch(() => undefined);
  }
});
