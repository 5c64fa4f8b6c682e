import test from 'ava';
import { DockerAdapter } from '../../src/docker/docker-adapter.js';
import type { SessionWire } from '../../src/domain/session-wire.js';
import type { SessionRow } from '../../src/persistence/rows.js';
import { bai } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { testEnv } from '../helpers/env.js';
import { batch, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
test.before(async () => {
  // Room for more than the arrays' parallelism, so the limit is the array's, not the agent's.
  stack = await startTestStack({ agent: { slots: { cpu: 16, mem: 16 * 1024 ** 3 } } });
});
test.after.always(async () => {
  await stack?.close();
});

const small = { config: { resources: { cpu: 1, mem: '64m' } } };
const create = (body: Record<string, unknown>) =>
  stack.client.request<{ sessionId: string }>('POST', '/session', body).then((r) => r.sessionId);
const info = (ref: string, q: Record<string, string> = {}) =>
  stack.client.request<SessionWire>('GET', `/session/${ref}`, undefined, q);
const childRows = async (parentId: string) =>
  (await stack.database
    .db('sessions')
    .where({ array_parent_id: parentId })
    .orderBy('array_index')) as SessionRow[];

/** The most intervals [from, to) open at one instant (an end before a start at the same time). */
function maxOverlap(intervals: [number, number][]): number {
  const edges = intervals.flatMap(([a, b]) => [
    [a, 1],
    [b, -1],
  ]) as [number, number][];
  edges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let open = 0;
  let max = 0;
  for (const [, d] of edges) max = Math.max(max, (open += d));
  return max;
}

const ended = (h: Record<string, string>) =>
  Math.min(
    ...['TERMINATING', 'TERMINATED', 'CANCELLED', 'ERROR'].filter((s) => h[s]).map((s) => Date.parse(h[s]!)),
  );

test.serial('0-19%3: 20 children, never more than 3 at once, each index once, parent SUCCESS', async (t) => {
  const parent = await create(
    batch('sleep 1; echo "idx=$BAI_ARRAY_INDEX of $BAI_ARRAY_SIZE"', {
      name: 'arr-ok',
      array: '0-19%3',
      ...small,
    }),
  );
  const v = await waitForStatus(stack.client, parent, ['TERMINATED', 'CANCELLED'], 300_000);
  t.is(v.status, 'TERMINATED');
  t.is(v.result, 'SUCCESS');
  t.is(v.exitCode, 0);
  t.is(v.statusInfo, 'task-finished', 'the reason a session of its own would show');
  t.is(v.kernels.length, 0, 'the parent has no kernels of its own');
  t.is(v.array?.size, 20);
  t.is(v.array?.parallelism, 3);
  t.is(v.array?.spec, '0-19%3');
  t.is(v.array?.counts.TERMINATED, 20);
  t.deepEqual(
    v.array?.children.items.map((c) => [c.index, c.sessionName, c.result]),
    Array.from({ length: 20 }, (_, i) => [i, `arr-ok-${i}`, 'SUCCESS']),
  );

  // The history in PostgreSQL: no instant with more than 3 children placed or running.
  const rows = await childRows(parent);
  t.is(rows.length, 20);
  const running = rows.map((r): [number, number] => [
    Date.parse(r.status_history.RUNNING!),
    ended(r.status_history),
  ]);
  const placed = rows.map((r): [number, number] => [
    Date.parse(r.status_history.SCHEDULED!),
    Date.parse(r.status_history.TERMINATED!),
  ]);
  for (const [a, b] of [...running, ...placed]) t.true(Number.isFinite(a) && Number.isFinite(b) && a <= b);
  t.true(maxOverlap(running) <= 3, `running at once: ${maxOverlap(running)}`);
  t.true(maxOverlap(placed) <= 3, `placed at once: ${maxOverlap(placed)}`);
  // The parent ran once a child did, and ended after the last one.
  t.true(Date.parse(v.statusHistory.RUNNING!) >= Math.min(...running.map((r) => r[0])));
  t.true(Date.parse(v.statusHistory.TERMINATED!) >= Math.max(...placed.map((r) => r[1])));

  // Each index printed exactly once, by its own child, which names its parent and index.
  const seen: string[] = [];
  for (const r of rows) {
    const logs = await stack.client.request<{ result: { logs: string } }>('GET', `/session/${r.id}/logs`);
    const lines = logs.result.logs.split('\n').filter((l) => l.startsWith('idx='));
    t.deepEqual(lines, [`idx=${r.array_index} of 20`]);
    seen.push(...lines);
  }
  t.is(new Set(seen).size, 20);
  const child = await info('arr-ok-7');
  t.deepEqual(child.arrayParent, { sessionId: parent, sessionName: 'arr-ok', index: 7, size: 20 });
  t.is(child.environ.BAI_ARRAY_INDEX, '7');

  // Paged children.
  const page = await info(parent, { children_limit: '5', children_offset: '15' });
  t.deepEqual(
    page.array?.children.items.map((c) => c.index),
    [15, 16, 17, 18, 19],
  );
  t.is(page.array?.children.total, 20);
});

test.serial(
  'a child exiting 4 makes the parent FAILURE with exit code 4 (the lowest failed index)',
  async (t) => {
    const parent = await create(
      batch(
        'if [ "$BAI_ARRAY_INDEX" = 7 ]; then exit 4; fi; if [ "$BAI_ARRAY_INDEX" = 9 ]; then exit 5; fi; true',
        {
          name: 'arr-fail',
          array: { size: 10, parallelism: 5 },
          ...small,
        },
      ),
    );
    const v = await waitForStatus(stack.client, parent, ['TERMINATED', 'CANCELLED'], 300_000);
    t.is(v.status, 'TERMINATED');
    t.is(v.result, 'FAILURE');
    t.is(v.exitCode, 4);
    t.is(v.statusInfo, 'task-failed');
    const byIndex = new Map(v.array!.children.items.map((c) => [c.index, c]));
    t.is(byIndex.get(7)?.exitCode, 4);
    t.is(byIndex.get(9)?.exitCode, 5);
    t.is(byIndex.get(3)?.result, 'SUCCESS');
  },
);

test.serial('cancelling the parent midway leaves no child running and no container', async (t) => {
  const parent = await create(batch('sleep 60', { name: 'arr-cancel', array: '0-9%2', ...small }));
  await waitForStatus(stack.client, parent, ['RUNNING'], 120_000);
  const del = await stack.client.request<{ status: string }>('DELETE', `/session/${parent}`);
  t.true(['TERMINATING', 'CANCELLED'].includes(del.status), del.status);
  const v = await waitForStatus(stack.client, parent, ['TERMINATED', 'CANCELLED'], 120_000);
  t.is(v.result, 'FAILURE');
  const rows = await childRows(parent);
  t.is(rows.length, 10);
  for (const r of rows) t.true(['TERMINATED', 'CANCELLED'].includes(r.status), `${r.name}: ${r.status}`);
  t.true(rows.filter((r) => r.status === 'CANCELLED').length >= 1, 'children never placed were cancelled');
  t.true(
    rows.some((r) => r.status_history.RUNNING),
    'some child had run',
  );
  const ids = new Set(rows.map((r) => r.id));
  const docker = new DockerAdapter(testEnv().dockerHost);
  const runningChildren = async () =>
    (await docker.list(['ai.bai.managed=true']))
      .filter((c) => ids.has(c.labels['ai.bai.session-id'] ?? '') && c.state === 'running')
      .map((c) => c.labels['ai.bai.session-id']);
  await eventually(async () => (await runningChildren()).length === 0, {
    timeoutMs: 120_000,
    message: () => 'no running container of the children',
  });
  t.deepEqual(await runningChildren(), [], 'no container of a child still runs');
});

test.serial('a dependency on the parent starts only after every child ended', async (t) => {
  const parent = await create(batch('sleep 1', { name: 'arr-dep', array: '0-3', ...small }));
  const after = await create(batch('echo after', { name: 'arr-after', dependencies: [parent], ...small }));
  const va = await waitForStatus(stack.client, after, ['TERMINATED', 'CANCELLED'], 300_000);
  t.is(va.result, 'SUCCESS');
  const rows = await childRows(parent);
  const lastEnd = Math.max(...rows.map((r) => r.terminated_at!.getTime()));
  t.true(Date.parse(va.kernels[0]!.startedAt!) >= lastEnd, 'started after the last child ended');
  t.true(Date.parse(va.statusHistory.SCHEDULED!) >= lastEnd, 'placed after the last child ended');
});

test.serial(
  "bai run --array: each child's lines prefixed by its index, the parent's exit code",
  async (t) => {
    const r = await bai(stack, [
      'run',
      '-t',
      'arr-cli',
      '--array',
      '0-3%2',
      '-r',
      'cpu=1',
      '-r',
      'mem=64m',
      '-c',
      "import os, sys\ni = os.environ['BAI_ARRAY_INDEX']\nprint('hello', i)\nprint('size', os.environ['BAI_ARRAY_SIZE'])\nsys.exit(4 if i == '2' else 0)",
      'python',
    ]);
    t.is(r.code, 4, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => l !== '');
    t.deepEqual([...lines].sort(), [
      '[0] hello 0',
      '[0] size 4',
      '[1] hello 1',
      '[1] size 4',
      '[2] hello 2',
      '[2] size 4',
      '[3] hello 3',
      '[3] size 4',
    ]);
    // Each child's own lines stay in their order.
    for (const i of [0, 1, 2, 3]) t.true(lines.indexOf(`[${i}] hello ${i}`) < lines.indexOf(`[${i}] size 4`));

    const info = await bai(stack, [
      'session',
      'info',
      'arr-cli',
      '--children-limit',
      '2',
      '--children-offset',
      '2',
    ]);
    t.is(info.code, 0, info.stderr);
    t.regex(info.stdout, /Array\s+0-3%2 \(4 children\)/);
    t.regex(info.stdout, /Children\s+TERMINATED 4/);
    t.regex(info.stdout, /^2\s+arr-cli-2\s+TERMINATED\s+FAILURE\s+4\s*$/m);
    t.regex(info.stdout, /^3\s+arr-cli-3\s+TERMINATED\s+SUCCESS\s+0\s*$/m);
    t.notRegex(info.stdout, /^0\s+arr-cli-0/m);
    const child = await bai(stack, ['session', 'info', 'arr-cli-1']);
    t.regex(child.stdout, /Array\s+index 1 of 4, parent arr-cli/);
  },
);

test.serial('a 10,000-child array is accepted in one request, then cancelled whole', async (t) => {
  const t0 = Date.now();
  const lap = (what: string) => t.log(`${what}: ${Date.now() - t0} ms`);
  await stack.client.request('PATCH', '/resource-policies/default', { max_pending_session_count: 20_000 });
  lap('patched');
  const res = await stack.client.raw(
    'POST',
    '/session',
    batch('true', { name: 'arr-big', array: '0-9999', starts_at: '+1d', ...small }),
  );
  lap(`created ${res.headers.get('server-timing')}`);
  t.is(res.status, 201);
  const parent = ((await res.json()) as { sessionId: string }).sessionId;
  const v = await info(parent);
  t.is(v.status, 'PENDING');
  t.is(v.array?.counts.PENDING, 10_000);
  t.is(v.array?.children.items.length, 100, 'the default page');
  const n = (await stack.database
    .db('sessions')
    .where({ array_parent_id: parent })
    .count('* as n')
    .first()) as { n: string };
  t.is(Number(n.n), 10_000);
  const k = (await stack.database
    .db('kernels as k')
    .join('sessions as s', 's.id', 'k.session_id')
    .where('s.array_parent_id', parent)
    .count('* as n')
    .first()) as { n: string };
  t.is(Number(k.n), 10_000);

  lap('counted');
  const del = await stack.client.request<{ status: string }>('DELETE', `/session/${parent}`);
  lap('deleted');
  t.is(del.status, 'CANCELLED');
  const after = await info(parent);
  t.is(after.array?.counts.CANCELLED, 10_000);
  const live = (await stack.database
    .db('kernels as k')
    .join('sessions as s', 's.id', 'k.session_id')
    .where('s.array_parent_id', parent)
    .whereNot('k.status', 'CANCELLED')
    .count('* as n')
    .first()) as { n: string };
  t.is(Number(live.n), 0, 'every kernel cancelled');
  const events = (await stack.database
    .db('session_events as e')
    .join('sessions as s', 's.id', 'e.session_id')
    .where('s.array_parent_id', parent)
    .where('e.name', 'session_cancelled')
    .count('* as n')
    .first()) as { n: string };
  t.is(Number(events.n), 10_000, 'each child announced its cancel');
});

test.serial('bad arrays are 400s', async (t) => {
  for (const [array, extra] of [
    ['5-3', {}],
    ['0-10000', {}],
    ['0-9%0', {}],
    [{ size: 0 }, {}],
    ['x', {}],
    ['0-9', { name: 'n'.repeat(63) }],
  ] as const) {
    const res = await stack.client.raw('POST', '/session', batch('true', { array, ...extra, ...small }));
    t.is(res.status, 400, JSON.stringify(array));
  }
  const inter = await stack.client.raw('POST', '/session', {
    image: 'python',
    type: 'interactive',
    array: '0-1',
    enqueueOnly: true,
  });
  t.is(inter.status, 400);
});
