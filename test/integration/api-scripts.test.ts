import test from 'ava';
import { holdsWithin } from '../helpers/eventually.js';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';
import { call, makeKeypair, type TestKeypair } from '../helpers/api.js';

const examples = (f: string) => fileURLToPath(new URL(`../../../docs/examples/${f}`, import.meta.url));

let stack: TestStack;
let env: Record<string, string>;
let kp: TestKeypair;
test.before(async () => {
  stack = await startTestStack({ agents: 1 });
  kp = await makeKeypair(stack);
  const tok = await call<{ token: string }>(kp.client, 'POST', '/tokens', { name: 'scripts' });
  env = { PATH: process.env.PATH ?? '', BAI_ENDPOINT: stack.manager.url, BAI_TOKEN: tok.body.token };
});
test.after.always(async () => {
  await stack?.close();
});

function sh(script: string, args: string[], extra: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      'bash',
      [examples(script), ...args],
      { env: { ...env, ...extra }, timeout: 90_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

test('docs/examples/ci-job.sh passes a passing job and fails with the exit code of a failing one', async (t) => {
  const ok = await sh('ci-job.sh', ['ci-pass', 'echo "all \\"green\\""; echo second line']);
  t.is(ok.code, 0, ok.stderr);
  t.is(ok.stdout, 'all "green"\nsecond line\n');
  t.regex(ok.stderr, /ci-pass: TERMINATED SUCCESS \(task-finished\), exit code 0/);
  const bad = await sh('ci-job.sh', ['ci-fail', 'echo tests failed; exit 3']);
  t.is(bad.code, 3);
  t.is(bad.stdout, 'tests failed\n');
  t.regex(bad.stderr, /FAILURE \(task-failed\), exit code 3/);
  // A re-run while the step's job is still live is refused, not attached to.
  const live = sh('ci-job.sh', ['ci-live', 'sleep 4']);
  await holdsWithin(
    async () =>
      (await call<{ status: string }>(kp.client, 'GET', '/session/ci-live')).body.status === 'RUNNING',
  );
  const dup = await sh('ci-job.sh', ['ci-live', 'true']);
  t.is(dup.code, 1);
  t.regex(dup.stderr, /submit failed: .*session-already-exists/);
  t.is((await live).code, 0);
});

test('docs/examples/ci-job.sh with a key: the step run again answers its session, the job does not run again', async (t) => {
  const key = { BAI_IDEMPOTENCY_KEY: `job-${Date.now()}` };
  const first = await sh('ci-job.sh', ['ci-keyed', 'echo ran; exit 4'], key);
  t.is(first.code, 4, first.stderr);
  t.is(first.stdout, 'ran\n');
  const again = await sh('ci-job.sh', ['ci-keyed', 'echo ran; exit 4'], key);
  t.is(again.code, 4, again.stderr);
  t.is(again.stdout, 'ran\n', 'the output of its one run');
  const idOf = (stderr: string) => /submitted ci-keyed \(([^)]+)\)/.exec(stderr)?.[1];
  t.truthy(idOf(first.stderr));
  t.is(idOf(again.stderr), idOf(first.stderr));
  const list = await call<{ total: number }>(kp.client, 'GET', '/sessions', undefined, { name: 'ci-keyed' });
  t.is(list.body.total, 1, 'one session');
});

test('docs/examples/cron-nightly.sh enqueues once per night, by bearer token', async (t) => {
  const first = await sh('cron-nightly.sh', [], { BAI_COMMAND: 'sleep 4' });
  t.is(first.code, 0, first.stderr);
  const a = JSON.parse(first.stdout) as { sessionId: string; created: boolean; status: string };
  t.true(a.created);
  t.is(a.status, 'PENDING');
  const second = await sh('cron-nightly.sh', [], { BAI_COMMAND: 'sleep 4' });
  const b = JSON.parse(second.stdout) as { sessionId: string; created: boolean };
  t.false(b.created);
  t.is(b.sessionId, a.sessionId);
  const s = await waitForStatus(kp.client, a.sessionId);
  t.is(s.result, 'SUCCESS');
  t.is(s.tag, 'nightly');
  // Once it ended its name is free, but the night's key still names it: no second run.
  const third = await sh('cron-nightly.sh', [], { BAI_COMMAND: 'sleep 4' });
  t.is(third.code, 0, third.stderr);
  t.like(JSON.parse(third.stdout) as object, {
    sessionId: a.sessionId,
    created: false,
    status: 'TERMINATED',
    result: 'SUCCESS',
  });
});
