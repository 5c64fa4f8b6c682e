import test from 'ava';
import { bai } from '../helpers/cli.js';
import { startTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
test.before(async () => {
  stack = await startTestStack({ agents: 1 });
});
test.after.always(async () => {
  await stack?.close();
});

test.serial('bai keypair create/list/deactivate, token create/list/revoke', async (t) => {
  const made = await bai(stack, ['keypair', 'create', 'dana@bai.test', '--rate-limit', '100', '--json']);
  t.is(made.code, 0, made.stderr);
  const kp = JSON.parse(made.stdout) as { access_key: string; secret_key: string; webhook_secret: string };
  t.truthy(kp.secret_key);
  const asDana = { BACKEND_ACCESS_KEY: kp.access_key, BACKEND_SECRET_KEY: kp.secret_key };

  const list = await bai(stack, ['keypair', 'list', '--json']);
  const items = JSON.parse(list.stdout) as { access_key: string; rate_limit: number }[];
  t.is(items.find((k) => k.access_key === kp.access_key)!.rate_limit, 100);
  t.false(list.stdout.includes(kp.secret_key));
  const table = await bai(stack, ['keypair', 'list']);
  t.regex(table.stdout, new RegExp(`${kp.access_key}\\s+dana@bai.test\\s+default\\s+user\\s+yes`));

  const tok = await bai(stack, ['token', 'create', '--name', 'nightly', '--json'], { env: asDana });
  t.is(tok.code, 0, tok.stderr);
  const { id, token } = JSON.parse(tok.stdout) as { id: string; token: string };
  const withToken = { BACKEND_ACCESS_KEY: '', BACKEND_SECRET_KEY: '', BAI_TOKEN: token };
  const tl = await bai(stack, ['token', 'list', '--json'], { env: withToken });
  t.is(tl.code, 0, tl.stderr);
  t.deepEqual(
    (JSON.parse(tl.stdout) as { id: string }[]).map((x) => x.id),
    [id],
  );
  t.false(tl.stdout.includes(token));
  const rv = await bai(stack, ['token', 'revoke', id], { env: asDana });
  t.is(rv.stdout, `${id}: revoked\n`);
  const after = await bai(stack, ['token', 'list'], { env: withToken });
  t.is(after.code, 1);
  t.regex(after.stderr, /HTTP 401 auth-failed/);

  const off = await bai(stack, ['keypair', 'deactivate', kp.access_key]);
  t.is(off.stdout, `${kp.access_key}: deactivated\n`);
  const denied = await bai(stack, ['ps'], { env: asDana });
  t.is(denied.code, 1);
  t.regex(denied.stderr, /401/);
  const inactive = await bai(stack, ['keypair', 'list', '--inactive', '--json']);
  t.deepEqual(
    (JSON.parse(inactive.stdout) as { access_key: string }[]).map((k) => k.access_key),
    [kp.access_key],
  );
  // A user is refused the admin commands with the server's reason.
  const user = JSON.parse((await bai(stack, ['keypair', 'create', 'eve@bai.test', '--json'])).stdout) as {
    access_key: string;
    secret_key: string;
  };
  const forbidden = await bai(stack, ['keypair', 'list'], {
    env: { BACKEND_ACCESS_KEY: user.access_key, BACKEND_SECRET_KEY: user.secret_key },
  });
  t.is(forbidden.code, 1);
  t.regex(forbidden.stderr, /HTTP 403 generic-forbidden/);
});

test.serial(
  'bai registry, image alias, domain allowed-registries, scaling-group, agent list/drain',
  async (t) => {
    const reg = await bai(
      stack,
      ['registry', 'add', '127.0.0.1:5998', '--url', 'http://127.0.0.1:5998', '--username', 'robot'],
      {
        env: { BAI_REGISTRY_PASSWORD: 'pw-never-shown' },
      },
    );
    t.is(reg.code, 0, reg.stderr);
    t.is(reg.stdout, '127.0.0.1:5998 (http://127.0.0.1:5998), with credentials\n');
    const regs = await bai(stack, ['registry', 'list', '--json']);
    t.false(regs.stdout.includes('pw-never-shown'));
    t.true((JSON.parse(regs.stdout) as { has_credentials: boolean }[])[0]!.has_credentials);

    const alias = await bai(stack, [
      'image',
      'alias',
      'set',
      'tool',
      '127.0.0.1:5998/t/tool:2',
      '--register',
      '--label',
      'ai.backend.resource.min.mem=64m',
    ]);
    t.is(alias.stdout, 'tool → 127.0.0.1:5998/t/tool:2\n');
    const aliases = JSON.parse((await bai(stack, ['image', 'alias', 'list', '--json'])).stdout) as {
      alias: string;
    }[];
    t.deepEqual(aliases.map((a) => a.alias).sort(), ['python', 'python3', 'python:3.11', 'tool']);

    const shown = await bai(stack, ['domain', 'allowed-registries', 'default']);
    t.is(shown.stdout, 'bai.local\ndocker.io\n');
    const set = await bai(stack, ['domain', 'allowed-registries', 'default', 'bai.local', '127.0.0.1:5998']);
    t.is(set.stdout, 'bai.local\n127.0.0.1:5998\n');
    await bai(stack, ['domain', 'allowed-registries', 'default', 'bai.local', 'docker.io']);

    const sg = await bai(stack, [
      'scaling-group',
      'create',
      'gpu',
      '--description',
      'GPU hosts',
      '--pending-timeout',
      '600',
    ]);
    t.is(sg.stdout, 'scaling group gpu created\n');
    const sgs = await bai(stack, ['scaling-group', 'list']);
    t.regex(sgs.stdout, /gpu\s+yes\s+600 s\s+GPU hosts/);
    t.is((await bai(stack, ['scaling-group', 'create', 'gpu'])).code, 1);

    const agents = JSON.parse((await bai(stack, ['agent', 'list', '--json'])).stdout) as {
      id: string;
      schedulable: boolean;
    }[];
    t.is(agents.length, 1);
    const id = agents[0]!.id;
    const drain = await bai(stack, ['agent', 'drain', id]);
    t.is(drain.stdout, `${id}: drained (0 kernel(s) still running)\n`);
    t.regex((await bai(stack, ['agent', 'list'])).stdout, new RegExp(`${id}\\s+default\\s+ALIVE\\s+drained`));
    t.is((await bai(stack, ['agent', 'drain', id, '--undo'])).stdout, `${id}: schedulable\n`);
    t.is((await bai(stack, ['agent', 'drain', 'no-such-agent'])).code, 1);
  },
);
