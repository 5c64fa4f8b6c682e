import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiClient } from '../../src/cli/client.js';
import { openRedis } from '../../src/queue/redis.js';
import { startManager } from '../../src/workers/manager/manager-process.js';
import { clientOf } from '../../src/cli/client.js';
import { makeKeypair } from '../helpers/api.js';
import { testEnv } from '../helpers/env.js';
import { eventually } from '../helpers/eventually.js';
import { makeFolder } from '../helpers/folders.js';
import { batch, quietLog, startTestStack, waitForStatus, type TestStack } from '../helpers/stack.js';

// `GET /session/{ref}/logs?follow=1`: one long answer per follower, the pages of the
// incremental read sent as the agent copies them (NDJSON), on one Redis connection the stream
// holds for its lifetime; it ends when the kernel ended and everything was sent, when the
// client goes away, or when the manager drains.

let stack: TestStack;
const redis = openRedis(testEnv().redisUrl);
let gates: string;
test.before(async () => {
  stack = await startTestStack({ agents: 1 });
  gates = await makeFolder(stack.client, stack.agentConfig(1).storageRoot, 'follow-gates');
});
test.after.always(async () => {
  await stack?.close();
  redis.disconnect();
});

interface Page {
  logs: string;
  cursor: string;
  offset?: number;
  gap?: boolean;
  ended?: boolean;
}

/** A follow stream read as it comes: its pages, and how it ended. */
class Follow {
  readonly pages: Page[] = [];
  readonly abort = new AbortController();
  contentType = '';
  status = 0;
  /** 'ended' (an ended page came, then the end), 'closed' (the end without one), 'error'. */
  readonly done: Promise<'ended' | 'closed' | 'error'>;

  constructor(client: ApiClient, id: string, query: Record<string, string> = {}) {
    this.done = this.read(client, id, query);
  }

  get text(): string {
    return this.pages.map((p) => p.logs).join('');
  }

  get cursor(): string {
    return this.pages.at(-1)?.cursor ?? '0';
  }

  private async read(client: ApiClient, id: string, query: Record<string, string>) {
    try {
      const res = await client.raw(
        'GET',
        `/session/${id}/logs`,
        undefined,
        { follow: '1', ...query },
        {},
        this.abort.signal,
      );
      this.status = res.status;
      this.contentType = res.headers.get('content-type') ?? '';
      const decoder = new TextDecoder();
      let rest = '';
      for await (const chunk of res.body!) {
        const lines = (rest + decoder.decode(chunk as Uint8Array, { stream: true })).split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) if (l.trim()) this.pages.push(JSON.parse(l) as Page);
      }
      return this.pages.at(-1)?.ended ? 'ended' : 'closed';
    } catch {
      return 'error';
    }
  }
}

/** This stack's log readers, as Redis sees their connections. */
async function readerConnections(): Promise<number> {
  const list = await redis.client('LIST');
  return String(list)
    .split('\n')
    .filter((l) => l.includes(` name=${stack.prefix}:log-reader `)).length;
}

async function create(command: string, extra: Record<string, unknown> = {}): Promise<string> {
  const made = await stack.client.request<{ sessionId: string }>('POST', '/session', batch(command, extra));
  return made.sessionId;
}

/** A job that prints `<tag>-1`, waits for gate 1, prints `<tag>-2`, … and exits after the last gate. */
function gated(tag: string, n: number): string {
  const each = Array.from(
    { length: n },
    (_, i) =>
      `echo ${tag}-${i + 1}; while [ ! -e /home/work/follow-gates/${tag}-go-${i + 1} ]; do sleep 0.05; done`,
  );
  return each.join('; ');
}
const open = (tag: string, i: number) => writeFileSync(join(gates, `${tag}-go-${i}`), '');
const mount = { config: { mounts: ['follow-gates'] } };

test.serial(
  'lines arrive in order while the job runs, and the stream ends at its end with all of it',
  async (t) => {
    // Submitted and followed at once: the stream waits for the agent, then for each line.
    const id = await create(gated('order', 3), mount);
    const f = new Follow(stack.client, id);
    try {
      for (const i of [1, 2, 3]) {
        await eventually(() => f.text.includes(`order-${i}\n`), {
          message: () => `order-${i} on the stream (has ${JSON.stringify(f.text)})`,
        });
        t.false(f.text.includes(`order-${i + 1}`));
        open('order', i);
      }
      t.is(f.status, 200);
      t.regex(f.contentType, /^application\/x-ndjson/);
      t.is(await f.done, 'ended');
      t.is(f.text, 'order-1\norder-2\norder-3\n');
      t.is(f.pages.filter((p) => p.ended).length, 1);
      for (const p of f.pages) t.regex(p.cursor, /^\d+-\d+$/);
      await waitForStatus(stack.client, id, ['TERMINATED']);
      await eventually(
        async () => stack.manager.logWaiters.active === 0 && (await readerConnections()) === 0,
        {
          message: 'the ended stream released its reader',
        },
      );
    } finally {
      f.abort.abort();
    }
  },
);

test.serial('a job that prints fast and exits: the stream delivers all of its live copy', async (t) => {
  const id = await create(`python3 -c 'for i in range(2000): print(f"row {i:05d}")'`);
  const f = new Follow(stack.client, id);
  t.is(await f.done, 'ended');
  // All that the agent copied, read page by page after the end, is what the stream sent.
  let copy = '';
  for (let after = '0'; ;) {
    const r = await stack.client.request<{ result: { logs: string; cursor: string; more: boolean } }>(
      'GET',
      `/session/${id}/logs`,
      undefined,
      { after },
    );
    copy += r.result.logs;
    after = r.result.cursor;
    if (!r.result.more) break;
  }
  t.is(f.text, copy);
  t.true(f.text.endsWith('row 01999\n'));
  const stored = await stack.client.request<{ result: { logs: string } }>('GET', `/session/${id}/logs`);
  // Docker's follow can skip lines of a job this fast; the agent then ends its copy with the
  // stored tail after a gap (log-copier.ts). Without one, the stream has the whole output.
  if (!f.pages.some((p) => p.gap)) t.is(f.text, stored.result.logs);
  // A follow of an ended kernel ends at once with what is left after the cursor: nothing.
  const again = new Follow(stack.client, id, { after: f.cursor });
  t.is(await again.done, 'ended');
  t.is(again.text, '');
});

test.serial(
  'resume with after=: a follower that left comes back from its cursor, each line once',
  async (t) => {
    const id = await create(gated('resume', 2), mount);
    const first = new Follow(stack.client, id);
    await eventually(() => first.text === 'resume-1\n', {
      message: () => `resume-1 on the first stream (has ${JSON.stringify(first.text)})`,
    });
    const cursor = first.cursor;
    first.abort.abort();
    t.is(await first.done, 'error');
    open('resume', 1);
    const second = new Follow(stack.client, id, { after: cursor });
    await eventually(() => second.text === 'resume-2\n', {
      message: () => `resume-2 on the second stream (has ${JSON.stringify(second.text)})`,
    });
    open('resume', 2);
    t.is(await second.done, 'ended');
    t.is(second.text, 'resume-2\n');
  },
);

test.serial('a client that goes away: its stream ends and its Redis connection is closed', async (t) => {
  const id = await create(`sh -c 'echo up; sleep 600'`);
  try {
    await waitForStatus(stack.client, id, ['RUNNING']);
    const f = new Follow(stack.client, id);
    await eventually(
      async () =>
        f.text === 'up\n' && stack.manager.logWaiters.active === 1 && (await readerConnections()) === 1,
      { message: () => `"up" on the stream, one reader (has ${JSON.stringify(f.text)})` },
    );
    f.abort.abort();
    t.is(await f.done, 'error');
    await eventually(async () => stack.manager.logWaiters.active === 0 && (await readerConnections()) === 0, {
      message: 'the reader of the stream closed',
    });
  } finally {
    await stack.client.request('DELETE', `/session/${id}`).catch(() => undefined);
  }
});

test.serial("another keypair's session is 404, a bad cursor 400, before any stream starts", async (t) => {
  const id = await create(`sh -c 'echo mine; sleep 600'`);
  try {
    const other = await makeKeypair(stack);
    const res = await other.client.raw('GET', `/session/${id}/logs`, undefined, { follow: '1' });
    t.is(res.status, 404);
    t.regex(res.headers.get('content-type') ?? '', /json/);
    const bad = await stack.client.raw('GET', `/session/${id}/logs`, undefined, { follow: '1', after: 'x' });
    t.is(bad.status, 400);
    t.is(stack.manager.logWaiters.active, 0);
    // Without follow, the answers are as before: a plain page.
    const plain = await stack.client.request<{ result: { cursor?: string } }>('GET', `/session/${id}/logs`);
    t.is(plain.result.cursor, undefined);
  } finally {
    await stack.client.request('DELETE', `/session/${id}`).catch(() => undefined);
  }
});

test.serial(
  'a manager that drains ends its streams; the follower goes on from its cursor elsewhere',
  async (t) => {
    // A second manager on the same database and Redis: its streams end when it closes.
    const second = await startManager(stack.managerConfig, quietLog);
    let closed = false;
    const id = await create(gated('drain', 2), mount);
    try {
      const client = clientOf(second.url, {
        accessKey: stack.database.admin.accessKey,
        secretKey: stack.database.admin.secretKey,
      });
      const f = new Follow(client, id);
      await eventually(async () => f.text === 'drain-1\n' && second.logWaiters.active === 1, {
        message: () => `drain-1 on the second manager's stream (has ${JSON.stringify(f.text)})`,
      });
      await second.close();
      closed = true;
      t.not(await f.done, 'ended', 'the stream ended without saying the kernel ended');
      t.is(second.logWaiters.active, 0);
      open('drain', 1);
      const next = new Follow(stack.client, id, { after: f.cursor });
      open('drain', 2);
      t.is(await next.done, 'ended');
      t.is(f.text + next.text, 'drain-1\ndrain-2\n');
      await eventually(async () => (await readerConnections()) === 0, { message: 'no reader left' });
    } finally {
      if (!closed) await second.close();
    }
  },
);
