import test from 'ava';
import { holdsWithin } from '../helpers/eventually.js';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { newAccessKey, newSecret } from '../../src/persistence/catalog-store.js';
import { freePort } from '../../src/stack/ports.js';
import { bai, baiWithEnv } from '../helpers/cli.js';
import { startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

// `bai session …`, `bai ps`, configuration, usage errors and server errors, against a real manager.

let stack: TestStack;
let hooks: Server;
const hookEvents: { event: string; session_name: string }[] = [];
const user = { accessKey: newAccessKey(), secretKey: newSecret() };

test.before(async () => {
  // The test's callback listener is on loopback: allowed as an operator would allow an internal host.
  stack = await startTestStack({ agents: 1, manager: { callbackAllowList: ['127.0.0.1'] } });
  await stack.database.db('keypairs').insert({
    access_key: user.accessKey,
    secret_key: user.secretKey,
    user_email: 'user@bai.local',
    domain_name: 'default',
    role: 'user',
    resource_policy: 'default',
    webhook_secret: newSecret(),
  });
  hooks = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hookEvents.push(JSON.parse(body) as { event: string; session_name: string });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hooks.listen(0, '127.0.0.1', r));
});
test.after.always(async () => {
  await stack?.close();
  hooks?.close();
});

const json = <T>(s: string): T => JSON.parse(s) as T;

test.serial('session create takes every flag, and info --json shows each one', async (t) => {
  const dep = await bai(stack, [
    'create',
    '--type',
    'batch',
    '-t',
    'dep-first',
    '-o',
    user.accessKey,
    '-c',
    'sleep 1; echo first',
    '--json',
    'python',
  ]);
  t.is(dep.code, 0, dep.stderr);
  const depId = json<{ sessionId: string; status: string; created: boolean }>(dep.stdout);
  t.is(depId.status, 'PENDING');
  t.true(depId.created);

  const hookUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}/hook`;
  const r = await bai(stack, [
    'session',
    'create',
    '--type',
    'batch',
    '-t',
    'all-flags',
    '-c',
    'echo "$MODE on $(cat /etc/hostname)"',
    '--starts-at',
    '1s',
    '--enqueue-only',
    '--no-reuse',
    '--batch-timeout',
    '5m',
    '--depends',
    'dep-first', // by name
    '--callback-url',
    hookUrl,
    '--priority',
    '20',
    '--cluster-size',
    '2',
    '--cluster-mode',
    'single-node',
    '--tag',
    'nightly',
    '-e',
    'MODE=cluster',
    '-r',
    'cpu=0.5',
    '--retries',
    '2',
    '--retry-on',
    'agent-lost',
    '--retry-delay',
    '2s',
    '-o',
    user.accessKey,
    '--json',
    'python',
  ]);
  t.is(r.code, 0, r.stderr);
  const created = json<{ sessionId: string; sessionName: string; status: string }>(r.stdout);
  t.is(created.sessionName, 'all-flags');

  const w = await bai(stack, ['session', 'watch', '-o', user.accessKey, 'all-flags', '--timeout', '60']);
  t.is(w.code, 0, w.stdout + w.stderr);
  const info = await bai(stack, ['session', 'info', '--owner', user.accessKey, 'all-flags', '--json']);
  t.is(info.code, 0, info.stderr);
  const s = json<SessionWire>(info.stdout);
  t.is(s.ownerAccessKey, user.accessKey);
  t.is(s.type, 'batch');
  t.is(s.priority, 20);
  t.is(s.tag, 'nightly');
  t.is(s.callbackUrl, hookUrl);
  t.is(s.batchTimeout, 300);
  t.deepEqual(s.dependencies, [depId.sessionId]);
  t.is(s.clusterSize, 2);
  t.is(s.clusterMode, 'single-node');
  t.deepEqual(s.kernels.map((k) => k.clusterRole).sort(), ['main', 'sub']);
  t.deepEqual(s.retryPolicy, { maxAttempts: 2, backoff: 'exponential', delaySeconds: 2, on: ['agent-lost'] });
  t.true(Date.parse(String(s.startsAt)) > Date.parse(String(s.creationTime)));
  t.is(s.result, 'SUCCESS');
  // The dependency ran first.
  const first = json<SessionWire>(
    (await bai(stack, ['session', 'info', '-o', user.accessKey, 'dep-first', '--json'])).stdout,
  );
  t.is(first.result, 'SUCCESS');
  t.true(Date.parse(String(first.terminationTime)) <= Date.parse(String(s.startedAt)));

  const logs = await bai(stack, ['session', 'logs', '-o', user.accessKey, 'all-flags', '--json']);
  t.regex(json<{ logs: string }>(logs.stdout).logs, /^cluster on main1\n$/);

  // The callback URL heard the lifecycle.
  await holdsWithin(() => hookEvents.some((e) => e.session_name === 'all-flags' && e.event === 'success'));
  t.true(hookEvents.some((e) => e.session_name === 'all-flags' && e.event === 'success'));
});

test.serial(
  '--no-reuse on a live name is the server 4xx: exit 1 with its message; reuse answers created false',
  async (t) => {
    const a = await bai(stack, [
      'create',
      '--type',
      'batch',
      '-t',
      'twice',
      '--starts-at',
      '1h',
      '-c',
      'true',
      'python',
    ]);
    t.is(a.code, 0, a.stderr);
    t.regex(a.stdout, /^Session twice \([0-9a-f-]{36}\) created: PENDING\n$/);
    const again = await bai(stack, [
      'start',
      '--type',
      'batch',
      '-t',
      'twice',
      '-c',
      'true',
      '--json',
      'python',
    ]);
    t.is(again.code, 0);
    t.false(json<{ created: boolean }>(again.stdout).created);
    const no = await bai(stack, [
      'session',
      'create',
      '--type',
      'batch',
      '-t',
      'twice',
      '--no-reuse',
      '-c',
      'true',
      'python',
    ]);
    t.is(no.code, 1);
    t.is(no.stdout, '');
    t.regex(no.stderr, /^Error: The session already exists\. .*\(HTTP 400 session-already-exists\)\n$/);
    t.notRegex(no.stderr, /\n\s+at /); // no stack trace

    const quota = await bai(stack, ['run', '-r', 'cpu=0.01', '-c', 'print(1)', 'python']);
    t.is(quota.code, 1);
    t.is(
      quota.stderr,
      'Error: Invalid or Missing API Parameters. The image needs at least 0.1 cpu; asked 0.01. (HTTP 400 generic-bad-request)\n',
    );

    // --max-wait without --enqueue-only: the server waits, then answers TIMEOUT (exit 3).
    const waited = await bai(stack, [
      'create',
      '--type',
      'batch',
      '-t',
      'later-on',
      '--starts-at',
      '1h',
      '--max-wait',
      '1',
      '-c',
      'true',
      '--json',
      'python',
    ]);
    t.is(waited.code, 3, waited.stderr);
    t.is(json<{ status: string }>(waited.stdout).status, 'TIMEOUT');

    const rm = await bai(stack, ['session', 'destroy', 'twice', 'later-on', '--json']);
    t.is(rm.code, 0, rm.stderr);
    t.deepEqual(
      json<{ session: string; status: string }[]>(rm.stdout).map((x) => [x.session, x.status]),
      [
        ['twice', 'CANCELLED'],
        ['later-on', 'CANCELLED'],
      ],
    );
    const gone = await bai(stack, ['kill', 'no-such-session']);
    t.is(gone.code, 1);
    t.regex(
      gone.stderr,
      /^Error: No such session\. No session matches "no-such-session"\. \(HTTP 404 object-not-found\)\n$/,
    );
  },
);

test.serial('retries: a job that fails is run again, and create --wait exits with its code', async (t) => {
  const r = await bai(stack, [
    'session',
    'create',
    '--type',
    'batch',
    '-t',
    'flaky',
    '--retries',
    '2',
    '--retry-on',
    'non-zero-exit',
    '--retry-delay',
    '1s',
    '--retry-backoff',
    'fixed',
    '-c',
    'exit 5',
    '--wait',
    '--wait-timeout',
    '60',
    'python',
  ]);
  t.is(r.code, 5, r.stderr);
  t.regex(r.stdout, /^Session flaky TERMINATED \(task-failed\) exit=5\n$/);
  const s = await waitForStatus(stack.client, 'flaky');
  t.is(s.attempt, 2);
});

test.serial('info, logs, logs -f, status-history and events, human and --json', async (t) => {
  const c = await bai(stack, ['run', '-t', 'readme', '-c', 'print("a")\nprint("b")', 'python']);
  t.is(c.code, 0, c.stderr);

  const info = await bai(stack, ['session', 'info', 'readme']);
  t.is(info.code, 0);
  t.regex(info.stdout, /^Session {4}readme \([0-9a-f-]{36}\)\n/);
  t.regex(info.stdout, /\nStatus {5}TERMINATED \(task-finished\)\n/);
  t.regex(info.stdout, /\nExit code {2}0\n/);
  t.regex(info.stdout, /\nCreated {4}\S+ \(\d+ s ago\)\n/);

  t.deepEqual(await bai(stack, ['logs', 'readme']), { code: 0, stdout: 'a\nb\n', stderr: '' });
  t.deepEqual(await bai(stack, ['session', 'logs', '-f', 'readme']), {
    code: 0,
    stdout: 'a\nb\n',
    stderr: '',
  });
  const lj = await bai(stack, ['session', 'logs', 'readme', '--json']);
  t.deepEqual(json(lj.stdout), { logs: 'a\nb\n' });

  const h = await bai(stack, ['session', 'status-history', 'readme', '--json']);
  const hist = json<Record<string, string>>(h.stdout);
  t.true(Date.parse(hist.PENDING!) <= Date.parse(hist.RUNNING!));
  t.true(Date.parse(hist.RUNNING!) <= Date.parse(hist.TERMINATED!));
  const ht = await bai(stack, ['session', 'status-history', 'readme']);
  t.regex(ht.stdout, /^STATUS +ENTERED +AGO\nPENDING +\S+ +\d+ s ago\n/);

  const ev = await bai(stack, ['session', 'events', 'readme', '--json']);
  t.is(ev.code, 0);
  const doc = json<{ sessionName: string; events: { event: string; id: number; status: string }[] }>(
    ev.stdout,
  );
  t.is(doc.sessionName, 'readme');
  t.deepEqual(
    doc.events.slice(-2).map((e) => e.event),
    ['session_success', 'session_terminated'],
  );
  t.true(doc.events.every((e, i) => i === 0 || e.id > doc.events[i - 1]!.id));
  const nd = await bai(stack, ['session', 'events', 'readme', '--ndjson', '--scope', '*']);
  const lines = nd.stdout
    .trimEnd()
    .split('\n')
    .map((l) => json<{ event: string }>(l));
  t.true(lines.some((l) => l.event === 'kernel_started'));
  t.true(lines.some((l) => l.event === 'session_started'));
  // A comma list, as Backend.AI's newer CLI sends; a scope it would refuse is exit 4, no request.
  const listed = await bai(stack, ['events', 'readme', '--ndjson', '--scope', 'session,kernel']);
  t.deepEqual(listed.stdout, nd.stdout);
  const badScope = await bai(stack, ['events', 'readme', '--scope', 'sessions']);
  t.is(badScope.code, 4);
  t.regex(badScope.stderr, /scope must be .*got "sessions"/);
  const human = await bai(stack, ['events', 'readme']);
  t.regex(human.stdout, /^session_enqueued +PENDING/);

  // --wait for one event: 0 when it happened (here, in the replay), 1 when the session ended without it.
  t.is((await bai(stack, ['session', 'events', '--wait', 'session_started', 'readme'])).code, 0);
  const never = await bai(stack, ['session', 'events', '--wait', 'session_cancelled', 'readme']);
  t.is(never.code, 1);
  t.regex(never.stderr, /^readme ended \(session_terminated\) without session_cancelled\.\n$/);
});

test.serial(
  'ps lists live sessions; -a, --status, --type, --tag, --since, --until and --all-owners filter',
  async (t) => {
    const pending = await bai(stack, [
      'create',
      '--type',
      'batch',
      '-t',
      'ps-later',
      '--starts-at',
      '1h',
      '--tag',
      'psTag',
      '-c',
      'true',
      'python',
    ]);
    t.is(pending.code, 0, pending.stderr);

    const live = json<{ items: { sessionName: string; status: string }[]; total: number }>(
      (await bai(stack, ['ps', '--json'])).stdout,
    );
    t.true(live.items.some((s) => s.sessionName === 'ps-later'));
    t.false(
      live.items.some((s) => s.sessionName === 'readme'),
      'ended sessions only with -a',
    );

    const all = json<{ items: { sessionName: string }[] }>((await bai(stack, ['ps', '-a', '--json'])).stdout);
    t.true(all.items.some((s) => s.sessionName === 'readme'));

    const byStatus = json<{ items: { status: string }[] }>(
      (await bai(stack, ['ps', '--status', 'TERMINATED', '--type', 'batch', '--json'])).stdout,
    );
    t.true(byStatus.items.length > 0);
    t.true(byStatus.items.every((s) => s.status === 'TERMINATED'));

    const tagged = json<{ items: { sessionName: string }[] }>(
      (await bai(stack, ['ps', '--tag', 'psTag', '--json'])).stdout,
    );
    t.deepEqual(
      tagged.items.map((s) => s.sessionName),
      ['ps-later'],
    );

    const recent = json<{ items: unknown[] }>(
      (await bai(stack, ['ps', '-a', '--since', '1h', '--json'])).stdout,
    );
    t.is(recent.items.length, all.items.length);
    const old = json<{ items: unknown[] }>(
      (await bai(stack, ['ps', '-a', '--until', '1h', '--json'])).stdout,
    );
    t.is(old.items.length, 0);

    // The user's session is not in the admin's own list, but is with --all-owners (or --owner).
    t.false(all.items.some((s) => s.sessionName === 'all-flags'));
    const everyone = json<{ items: { sessionName: string }[] }>(
      (await bai(stack, ['ps', '-a', '-A', '--json'])).stdout,
    );
    t.true(everyone.items.some((s) => s.sessionName === 'all-flags'));
    const theirs = json<{ items: { sessionName: string }[] }>(
      (await bai(stack, ['ps', '-a', '--owner', user.accessKey, '--json'])).stdout,
    );
    t.true(theirs.items.every((s) => s.sessionName !== 'readme'));

    const table = await bai(stack, ['ps', '--tag', 'psTag']);
    t.regex(
      table.stdout,
      /^ID +NAME +TYPE +STATUS +REASON +EXIT +CREATED +IMAGE\n[0-9a-f]{8} +ps-later +batch +PENDING +- +\d+ s ago +\S+\n$/,
    );
    const bad = await bai(stack, ['ps', '--since', 'yesterday-ish']);
    t.is(bad.code, 4);
    t.regex(bad.stderr, /--since takes a duration/);

    t.is((await bai(stack, ['rm', 'ps-later'])).code, 0);
  },
);

test('a bad flag or a missing argument exits 2 with the usage; a bad value exits 4', async (t) => {
  const missing = await bai(stack, ['session', 'info']);
  t.is(missing.code, 2);
  t.is(missing.stdout, '');
  t.regex(missing.stderr, /Not enough positional arguments/);
  t.regex(missing.stderr, /\$ bai session info .*<SESSION>\n/);
  t.regex(missing.stderr, /Run "bai session info --help" for its flags\.\n$/);

  const bogus = await bai(stack, ['run', '--bogus', '-c', 'x', 'python']);
  t.is(bogus.code, 2);
  t.regex(bogus.stderr, /Unsupported option name \("--bogus"\)/);
  t.regex(bogus.stderr, /\$ bai run .*-c,--code #0.*<IMAGE>/);

  const noCode = await bai(stack, ['run', 'python']);
  t.is(noCode.code, 2);

  const badType = await bai(stack, ['session', 'create', '--type', 'weird', 'python']);
  t.is(badType.code, 4);
  t.regex(badType.stderr, /Invalid value for --type/);

  const badPriority = await bai(stack, ['session', 'create', '--priority', 'high', 'python']);
  t.is(badPriority.code, 4);

  const badTimeout = await bai(stack, ['session', 'watch', 'x', '--timeout', 'soon']);
  t.is(badTimeout.code, 4);
  t.regex(badTimeout.stderr, /^Error: --timeout must be a positive number/);

  const batchNoCmd = await bai(stack, ['session', 'create', '--type', 'batch', 'python']);
  t.is(batchNoCmd.code, 2);
  t.regex(
    batchNoCmd.stderr,
    /^Usage Error: A batch session needs -c\/--startup-command\.\n\n\$ bai session create /,
  );

  const badEnv = await bai(stack, ['run', '-e', 'NOEQUALS', '-c', 'x', 'python']);
  t.is(badEnv.code, 4);
  t.regex(badEnv.stderr, /-e takes KEY=VALUE/);

  const help = await bai(stack, ['session', 'create', '--help']);
  t.is(help.code, 0);
  t.regex(help.stdout, /--starts-at/);
  t.false(help.stdout.includes('\u001b'), 'help in colour off a terminal');
  const ttyHelp = await bai(stack, ['session', 'create', '--help'], { tty: true });
  t.true(ttyHelp.stdout.includes('\u001b'));
});

test('a manager that does not answer: exit 1, naming the endpoint and the request', async (t) => {
  const port = await freePort();
  // BAI_RETRIES=0: the message as it comes at once (retries are fault-postgres-down's concern).
  const r = await bai(stack, ['session', 'info', 'x', '--endpoint', `http://127.0.0.1:${port}`], {
    env: { BAI_RETRIES: '0' },
  });
  t.is(r.code, 1);
  t.is(
    r.stderr,
    `Error: Cannot reach the manager at http://127.0.0.1:${port} (GET /session/x): ECONNREFUSED\n`,
  );
});

test('config: --endpoint over BACKEND_* over .bai/env over the config file', async (t) => {
  const dir = join(stack.managerConfig.stateDir, 'config-test');
  mkdirSync(join(dir, 'state'), { recursive: true });
  const file = join(dir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({
      endpoint: stack.manager.url,
      accessKey: user.accessKey,
      secretKey: user.secretKey,
      group: 'g1',
    }),
  );
  const base = { PATH: process.env.PATH, BAI_CONFIG: file, BAI_STATE_DIR: join(dir, 'state') };

  // The config file alone is enough to talk to the manager, as the user.
  const ps = await baiWithEnv(base, ['ps', '-a', '--json']);
  t.is(ps.code, 0, ps.stderr);
  t.true(
    json<{ items: { ownerAccessKey: string }[] }>(ps.stdout).items.every(
      (s) => s.ownerAccessKey === user.accessKey,
    ),
  );

  const cfg = await baiWithEnv(base, ['config', '--json']);
  const settings = json<{ settings: Record<string, { value: string | null; source: string }> }>(
    cfg.stdout,
  ).settings;
  t.deepEqual(settings.endpoint, { value: stack.manager.url, source: 'config-file' });
  t.deepEqual(settings.group, { value: 'g1', source: 'config-file' });
  t.deepEqual(settings.domain, { value: 'default', source: 'default' });
  t.is(settings.secretKey!.value, `${user.secretKey.slice(0, 4)}${'*'.repeat(user.secretKey.length - 4)}`);

  // .bai/env (bai up) wins over the config file, the environment over both, the flag over all.
  writeFileSync(
    join(dir, 'state', 'env'),
    `export BACKEND_ENDPOINT='http://127.0.0.1:7'\nexport BACKEND_ACCESS_KEY=AKFROMSTATE\nexport BACKEND_SECRET_KEY=s\n`,
  );
  const layered = json<{ settings: Record<string, { value: string | null; source: string }> }>(
    (await baiWithEnv({ ...base, BACKEND_ENDPOINT: 'http://127.0.0.1:8' }, ['config', '--json'])).stdout,
  ).settings;
  t.deepEqual(layered.endpoint, { value: 'http://127.0.0.1:8', source: 'env' });
  t.deepEqual(layered.accessKey, { value: 'AKFROMSTATE', source: 'state-dir' });
  t.is(layered.secretKey!.source, 'state-dir'); // the keypair comes whole from one place
  const flag = json<{ settings: Record<string, { value: string }> }>(
    (
      await baiWithEnv({ ...base, BACKEND_ENDPOINT: 'http://127.0.0.1:8' }, [
        'config',
        '--json',
        '--endpoint',
        'http://h:1',
      ])
    ).stdout,
  ).settings;
  t.is(flag.endpoint!.value, 'http://h:1');

  writeFileSync(file, '{"endpoint": ');
  const broken = await baiWithEnv(base, ['ps']);
  t.is(broken.code, 1);
  t.regex(broken.stderr, /^Error: .*config\.json is not JSON/);
});

test('completion bash completes commands, aliases and flags', async (t) => {
  const r = await bai(stack, ['completion', 'bash']);
  t.is(r.code, 0);
  const complete = (words: string[]) =>
    execFileSync(
      'bash',
      [
        '-c',
        `${r.stdout}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _bai_complete; echo "\${COMPREPLY[*]}"`,
      ],
      { encoding: 'utf8' },
    ).trim();
  t.deepEqual(complete(['bai', 'sess']).split(' ').sort(), ['session', 'session-template', 'sesstpl']);
  t.is(complete(['bai', 'session-t']), 'session-template');
  t.true(complete(['bai', 'session', '']).split(' ').includes('status-history'));
  t.is(complete(['bai', 'session', 'create', '--starts']), '--starts-at');
  t.is(complete(['bai', 'kill', '--for']), '--forced');
  const bad = await bai(stack, ['completion', 'fish']);
  t.is(bad.code, 2);
});
