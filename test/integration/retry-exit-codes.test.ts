import test from 'ava';
import type { KernelExitedReport } from '../../src/queue/payloads.js';
import { openRedis } from '../../src/queue/redis.js';
import type { AttemptWire, SessionWire } from '../../src/domain/session-wire.js';
import { call, slugOf } from '../helpers/api.js';
import { bai } from '../helpers/cli.js';
import { until } from '../helpers/eventually.js';
import { reportApplied, sendReport } from '../helpers/reports.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack();
});
test.after.always(async () => {
  await stack?.close();
});

const create = (body: Record<string, unknown>) =>
  stack.client.request<{ sessionId: string }>('POST', '/session', body).then((r) => r.sessionId);

/** Exits 137 (as if SIGKILLed) on its first attempt, 0 on any later one: BAI_ATTEMPT decides. */
const FLAKY_PY = `import os, sys; a = os.environ['BAI_ATTEMPT']; print('attempt', a); sys.exit(137 if a == '1' else 0)`;
const FLAKY = `python3 -c "${FLAKY_PY}"`;

function assertTimes(t: { true(v: boolean, m?: string): void }, a: AttemptWire): void {
  t.true(a.startedAt !== null, `attempt ${a.attempt} started`);
  t.true(Date.parse(a.startedAt!) <= Date.parse(a.endedAt), `attempt ${a.attempt} started before it ended`);
}

test.serial(
  'exit 137 then 0 under onExitCodes [137, 143]: SUCCESS with both attempts recorded',
  async (t) => {
    const id = await create(
      batch(FLAKY, {
        name: 'oom-then-ok',
        retry: { max_attempts: 3, on_exit_codes: [137, 143], delay: 0.2, max_delay: 1, backoff: 'fixed' },
      }),
    );
    const v = await waitForStatus(stack.client, id);
    t.like(v, { status: 'TERMINATED', result: 'SUCCESS', exitCode: 0, attempt: 2 });
    t.like(v.retryPolicy, { maxAttempts: 3, onExitCodes: [137, 143], maxDelaySeconds: 1 });
    t.is(v.attempts.length, 2, JSON.stringify(v.attempts));
    const [first, second] = v.attempts as [AttemptWire, AttemptWire];
    t.like(first, { attempt: 1, exitCode: 137, result: 'FAILURE', reason: 'non-zero-exit' });
    t.like(second, { attempt: 2, exitCode: 0, result: 'SUCCESS', reason: 'task-finished' });
    for (const a of v.attempts) {
      t.truthy(a.agentId, `attempt ${a.attempt} names its agent`);
      assertTimes(t, a);
    }
    t.is(second.agentId, v.agentId);
    t.true(
      Date.parse(second.startedAt!) >= Date.parse(first.endedAt),
      'attempt 2 started after attempt 1 ended',
    );
    // The second container saw BAI_ATTEMPT=2 (its output is the session's).
    const logs = await stack.client.request<{ result: { logs: string } }>('GET', `/session/${id}/logs`);
    t.regex(JSON.stringify(logs), /attempt 2/);

    // Reports arrive at least once: both exits sent again change nothing, nor does the history.
    const redis = openRedis(stack.managerConfig.redisUrl);
    try {
      const exited = (attempt: number, exitCode: number): KernelExitedReport => ({
        agentId: v.agentId!,
        sessionId: id,
        attempt,
        kernelId: v.kernels[0]!.kernelId,
        exitCode,
        timedOut: false,
        oomKilled: false,
        stoppedFor: null,
        logs: `attempt ${attempt}\n`,
        startedAt: Date.now() - 1000,
        finishedAt: Date.now(),
      });
      const send = (attempt: number, exitCode: number) =>
        sendReport(
          redis,
          stack.prefix,
          v.agentId!,
          { name: 'kernel-exited', data: exited(attempt, exitCode) },
          `replay-${attempt}-${id}`,
        );
      const entries = [await send(1, 137), await send(2, 0)];
      // An entry is deleted once applied; one whose handling fails stays (and is retried).
      const states = await until(
        'both replayed reports handled',
        async () => {
          const st = await Promise.all(
            entries.map(async (e) =>
              (await reportApplied(redis, stack.prefix, v.agentId!, e)) ? 'completed' : 'pending',
            ),
          );
          return st.every((x) => x === 'completed') ? st : null;
        },
        60_000,
      );
      t.deepEqual(states, ['completed', 'completed']);
    } finally {
      redis.disconnect();
    }
    const again = await waitForStatus(stack.client, id);
    t.like(again, { status: 'TERMINATED', result: 'SUCCESS', exitCode: 0, attempt: 2 });
    t.deepEqual(again.attempts, v.attempts);
    t.deepEqual(again.statusHistory, v.statusHistory);
  },
);

test.serial('exit 1 with onExitCodes [137] and three attempts is not retried', async (t) => {
  const id = await create(
    batch('exit 1', { name: 'plain-bug', retry: { maxAttempts: 3, onExitCodes: [137], delay: 0.2 } }),
  );
  const v = await waitForStatus(stack.client, id);
  t.like(v, { status: 'TERMINATED', result: 'FAILURE', exitCode: 1, attempt: 1, statusInfo: 'task-failed' });
  t.is(v.attempts.length, 1, JSON.stringify(v.attempts));
  t.like(v.attempts[0], { attempt: 1, exitCode: 1, result: 'FAILURE', reason: 'task-failed' });
  t.truthy(v.attempts[0]!.agentId);
  assertTimes(t, v.attempts[0]!);
});

test.serial(
  'a session cancelled while running records its attempt; one never placed records none',
  async (t) => {
    const id = await create(batch('sleep 600', { name: 'cancel-running' }));
    await waitForStatus(stack.client, id, ['RUNNING']);
    t.is((await call(stack.client, 'DELETE', `/session/${id}`)).status, 200);
    const v = await waitForStatus(stack.client, id);
    t.is(v.attempts.length, 1, JSON.stringify(v.attempts));
    t.like(v.attempts[0], { attempt: 1, agentId: v.agentId, reason: v.statusInfo, result: v.result });
    assertTimes(t, v.attempts[0]!);

    const later = await create(batch('true', { name: 'never-placed', starts_at: '1h' }));
    t.is((await call(stack.client, 'DELETE', `/session/${later}`)).status, 200);
    const c = await waitForStatus(stack.client, later);
    t.is(c.status, 'CANCELLED');
    t.deepEqual(c.attempts, []);
  },
);

test.serial('bad exit codes and delays are 400s naming the field', async (t) => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ on_exit_codes: [0] }, /retry\.on_exit_codes/],
    [{ onExitCodes: [256] }, /retry\.on_exit_codes/],
    [{ on_exit_codes: [] }, /retry\.on_exit_codes/],
    [{ on_exit_codes: Array.from({ length: 65 }, (_, i) => i + 1) }, /more than 64/],
    [{ max_delay: 'soon' }, /retry\.max_delay/],
    [{ delay: 10, maxDelay: 5 }, /retry\.max_delay/],
  ];
  for (const [retry, re] of cases) {
    const r = await call<{ detail?: string; title?: string }>(
      stack.client,
      'POST',
      '/session',
      batch('true', { retry }),
    );
    t.is(r.status, 400, JSON.stringify(retry));
    t.is(slugOf(r), 'generic-bad-request');
    t.regex(JSON.stringify(r.body), re);
  }
});

test.serial('bai run --retry-on-exit/--retry-max-delay, and session info lists the attempts', async (t) => {
  const r = await bai(stack, [
    'run',
    '-t',
    'cli-flaky',
    '--retries',
    '3',
    '--retry-on-exit',
    '137,143',
    '--retry-delay',
    '0.2s',
    '--retry-max-delay',
    '1s',
    '-c',
    FLAKY_PY,
    'python',
  ]);
  t.is(r.code, 0, r.stderr);
  const j = await bai(stack, ['session', 'info', 'cli-flaky', '--json']);
  const info = JSON.parse(j.stdout) as SessionWire;
  t.like(info.retryPolicy, { maxAttempts: 3, onExitCodes: [137, 143], maxDelaySeconds: 1 });
  t.deepEqual(
    info.attempts.map((a) => [a.attempt, a.exitCode, a.result]),
    [
      [1, 137, 'FAILURE'],
      [2, 0, 'SUCCESS'],
    ],
  );
  const h = await bai(stack, ['session', 'info', 'cli-flaky']);
  t.is(h.code, 0, h.stderr);
  const human = h.stdout;
  t.regex(human, /\nAttempts\n {2}#1 {2}FAILURE {2}exit 137 {2}non-zero-exit {2}\S+ {2}\S+ → \S+\n/);
  t.regex(human, /\n {2}#2 {2}SUCCESS {2}exit 0 {4}task-finished {2}\S+ {2}\S+ → \S+\n/);

  const bad = await bai(stack, ['run', '--retry-on-exit', '0', '-c', 'print(1)', 'python']);
  t.not(bad.code, 0);
  t.regex(bad.stderr, /retry\.on_exit_codes/);
});
