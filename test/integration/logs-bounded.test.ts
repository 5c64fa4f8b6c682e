import test from 'ava';
import type { SessionWire } from '../../src/domain/session-wire.js';
import Docker from 'dockerode';
import type { ChildProcess } from 'node:child_process';
import { logMetaKey, logStreamKey } from '../../src/queue/names.js';
import { openRedis } from '../../src/queue/redis.js';
import { ChildAgents } from '../helpers/child-agent.js';
import { bai } from '../helpers/cli.js';
import { testEnv } from '../helpers/env.js';
import { batch, startTestStack, waitForAgents, type TestStack } from '../helpers/stack.js';

/**
 * However much a job prints, the agent's memory stays flat, the session ends with its true
 * exit code, and every hop keeps a bounded tail and says it was truncated: Docker's json-file
 * log (max-size), the live Redis copy (bytes and entries), the stored output, GET /logs,
 * `bai session logs` (with and without -f) and `bai run`.
 */

const MiB = 1024 * 1024;
/** One or more notes, nothing else. */
const NOTES = /^(\[bai: output truncated: [^\]\n]+\]\n)+$/;
const LINE = 'x'.repeat(1023);
/** Python: n MiB of 1 KiB lines, one write each, then a last line and an exit code. */
const printer = (mib: number, code: number) =>
  `import sys; s='x'*1023+chr(10); [sys.stdout.write(s) for _ in range(${mib}*1024)]; ` +
  `sys.stdout.write('end-of-output'+chr(10)); sys.exit(${code})`;

let stack: TestStack;
let agents: ChildAgents;
let agent: ChildProcess;
let docker: Docker;
const redis = openRedis(testEnv().redisUrl);

test.before(async () => {
  // The agent is a child process, as in production: its resident memory is what is measured.
  stack = await startTestStack({ agents: 0, manager: { agentTimeoutMs: 30_000 } });
  agents = new ChildAgents(stack);
  agent = await agents.spawn(1);
  await waitForAgents(stack, 1);
  docker = new Docker({ socketPath: testEnv().dockerHost.replace(/^unix:\/\//, '') });
});
test.after.always(async () => {
  agents?.killAll();
  await stack?.close();
  redis.disconnect();
});

interface LogsResult {
  result: { logs: string; truncated?: boolean; totalBytes?: number | null };
}

/** Waits for a session's end while sampling the agent's RSS; the largest sample. */
async function endWhileSampling(
  id: string,
  agent: ChildProcess,
  onRunning?: (s: SessionWire) => Promise<void>,
): Promise<{ s: SessionWire; maxRss: number }> {
  let maxRss = 0;
  let sawRunning = false;
  const deadline = Date.now() + 300_000;
  for (;;) {
    const rss = ChildAgents.rssBytes(agent);
    if (rss !== null) maxRss = Math.max(maxRss, rss);
    const s = await stack.client.request<SessionWire>('GET', `/session/${id}`);
    if (s.status === 'RUNNING' && !sawRunning && onRunning) {
      sawRunning = true;
      await onRunning(s);
    }
    if (s.status === 'TERMINATED' || s.status === 'CANCELLED') return { s, maxRss };
    if (Date.now() > deadline) throw new Error(`session ${id} still ${s.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test.serial(
  '1 GiB of output: agent RSS stays under 300 MB, exit 0, a capped tail said truncated',
  async (t) => {
    // A gigabyte through Docker's log follow takes minutes on a loaded machine (the sampling
    // loop has its own 300 s deadline); without this, ava's 90 s default would end the test.
    t.timeout(600_000);
    const start = ChildAgents.rssBytes(agent)!;
    const { sessionId: id } = await stack.client.request<{ sessionId: string }>(
      'POST',
      '/session',
      batch(`python3 -c "${printer(1024, 0)}"`, { name: 'gigabyte' }),
    );
    let logConfig: { Type?: string; Config?: Record<string, string> } | undefined;
    const { s, maxRss } = await endWhileSampling(id, agent, async () => {
      const [c] = await docker.listContainers({ all: true, filters: { label: [`ai.bai.session-id=${id}`] } });
      if (c) logConfig = (await docker.getContainer(c.Id).inspect()).HostConfig.LogConfig;
    });
    t.is(s.result, 'SUCCESS', JSON.stringify(s));
    t.is(s.exitCode, 0);
    t.true(
      maxRss < 300 * MiB,
      `agent RSS reached ${Math.round(maxRss / MiB)} MiB (from ${Math.round(start / MiB)})`,
    );
    t.true(agent.exitCode === null && agent.signalCode === null, 'the agent died');

    // Docker's own copy is bounded: json-file with max-size and max-file.
    t.is(logConfig?.Type, 'json-file');
    t.is(logConfig?.Config?.['max-file'], '2');
    t.is(logConfig?.Config?.['max-size'], String(8 * MiB));

    // The stored output: the last 4 MiB (the default), marked, with the size of the whole.
    const r = await stack.client.request<LogsResult>('GET', `/session/${id}/logs`);
    t.true(r.result.truncated);
    t.true(r.result.logs.startsWith('[bai: output truncated, last 4194304 bytes follow]\n'));
    t.true(r.result.logs.endsWith(`${LINE}\nend-of-output\n`));
    t.true(Buffer.byteLength(r.result.logs) <= 4 * MiB + 100);
    t.true((r.result.totalBytes ?? 0) > 4 * MiB, String(r.result.totalBytes));

    // The live copy in Redis stayed within its cap (1 MiB of text by default, plus overhead).
    const kernelId = s.kernels[0]!.kernelId;
    const agentId = stack.agentConfig(1).id;
    const mem = Number(await redis.call('MEMORY', 'USAGE', logStreamKey(stack.prefix, agentId, kernelId)));
    t.true(mem > 0 && mem < 2 * MiB, `log stream holds ${mem} bytes`);
    t.true(Number(await redis.hget(logMetaKey(stack.prefix, agentId, kernelId), 'stored')) <= MiB);

    // `bai session logs` says it (the marker); -f on the ended job says it too (stderr).
    const plain = await bai(stack, ['session', 'logs', 'gigabyte']);
    t.is(plain.code, 0, plain.stderr);
    t.true(plain.stdout.startsWith('[bai: output truncated'));
    const follow = await bai(stack, ['session', 'logs', '-f', 'gigabyte']);
    t.is(follow.code, 0, follow.stderr);
    t.regex(follow.stderr, NOTES);
    t.true(follow.stdout.endsWith(`${LINE}\nend-of-output\n`));
    t.true(Buffer.byteLength(follow.stdout) <= 4 * MiB);
    t.false(follow.stdout.startsWith('[bai:'));
  },
);

test.serial(
  'bai run of a large output exiting 3: exit code 3, the tail, and a truncation note',
  async (t) => {
    t.timeout(600_000);
    const seen: number[] = [];
    const sampler = setInterval(() => {
      const rss = ChildAgents.rssBytes(agent);
      if (rss !== null) seen.push(rss);
    }, 50);
    let r;
    try {
      r = await bai(stack, ['run', '-c', printer(64, 3), 'python']);
    } finally {
      clearInterval(sampler);
    }
    t.is(r.code, 3, r.stderr);
    t.true(Math.max(...seen) < 300 * MiB);
    t.true(r.stdout.endsWith(`${LINE}\nend-of-output\n`));
    // Whatever could not be shown live (the live copy is capped, Docker's log rotates) is said.
    t.regex(r.stderr, NOTES);
    t.true(Buffer.byteLength(r.stdout) < 64 * MiB);
    t.true(agent.exitCode === null && agent.signalCode === null, 'the agent died');
  },
);
