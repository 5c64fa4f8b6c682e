import type { SessionWire } from '../../src/domain/session-wire.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedis, type Service } from '../../src/stack/services.js';
import type { ApiClient } from '../../src/cli/client.js';
import { loadAgentConfig } from '../../src/config/config.js';
import { startAgent, type RunningAgent } from '../../src/workers/agent/agent-process.js';
import { testEnv } from './env.js';
import { guardedNodeArgs } from './orphan-guard-args.js';
import { holdsWithin, untilDone } from './eventually.js';
import { quietLog, startTestStack, type TestStack } from './stack.js';

/** The repository root (dist/test/helpers → ../../..). */
export const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

/** A Redis of the test's own, under the test tmp folder: fault tests flush, kill and restart it. */
export async function ownRedis(
  opts: { durable?: boolean; port?: number } = {},
): Promise<Service & { dir: string }> {
  const dir = join(testEnv().tmp, `redis-${randomBytes(4).toString('hex')}`);
  mkdirSync(dir, { recursive: true });
  const s = await startRedis(dir, opts);
  return { ...s, dir };
}

/**
 * Counts container starts per session as Docker reports them (`docker events`), so a test can
 * show that no command ran twice. Only containers whose agent label starts with `agentPrefix`.
 */
export class StartCounter {
  private readonly child: ChildProcess;
  private buf = '';
  readonly starts = new Map<string, number>();
  private ready: Promise<void>;

  constructor(dockerHost: string, agentPrefix: string) {
    this.child = spawn(
      'docker',
      [
        '-H',
        dockerHost,
        'events',
        // From now on, even if the subscription attaches later: no start can slip by unseen.
        '--since',
        String(Math.floor(Date.now() / 1000)),
        '--filter',
        'type=container',
        '--filter',
        'event=start',
        '--filter',
        'label=ai.bai.managed=true',
        '--format',
        '{{json .}}',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    this.child.stdout!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      this.buf += chunk;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        try {
          const ev = JSON.parse(line) as { Actor?: { Attributes?: Record<string, string> } };
          const a = ev.Actor?.Attributes ?? {};
          if (!(a['ai.bai.agent-id'] ?? '').startsWith(agentPrefix)) continue;
          if (a['ai.bai.cluster-role'] !== 'main') continue;
          const sid = a['ai.bai.session-id'] ?? '';
          this.starts.set(sid, (this.starts.get(sid) ?? 0) + 1);
        } catch {
          // Expected: a partial or non-JSON line (a docker warning) is not an event.
        }
      }
    });
    this.ready = new Promise((resolveSpawn, reject) => {
      this.child.once('spawn', () => resolveSpawn());
      this.child.once('error', reject);
    });
  }

  /** Resolves once `docker events` runs; it replays from its creation (`--since`), so nothing is missed. */
  async attached(): Promise<void> {
    await this.ready;
  }

  /**
   * Waits until `pred` holds over the starts seen so far (Docker reports them asynchronously);
   * false if it still does not after `timeoutMs`, for the caller's assertions to say what is missing.
   */
  async until(pred: (starts: ReadonlyMap<string, number>) => boolean, timeoutMs = 60_000): Promise<boolean> {
    return holdsWithin(() => pred(this.starts), { timeoutMs, intervalMs: 50 });
  }

  /** Waits until every session of `ids` has been seen starting (see `until`). */
  seen(ids: string[], timeoutMs = 60_000): Promise<boolean> {
    return this.until((s) => ids.every((id) => s.has(id)), timeoutMs);
  }

  /** Sessions started more than once. */
  twice(): string[] {
    return [...this.starts].filter(([, n]) => n > 1).map(([id]) => id);
  }

  stop(): void {
    if (this.child.pid && this.child.exitCode === null) this.child.kill('SIGTERM');
  }
}

/**
 * Waits until every session in `ids` is in one of `statuses`; returns their views. Waits on
 * progress, not on a budget: it fails only when no session changed status (or attempt) for
 * `stallMs`, so a loaded machine gets the time it needs; the test's own timeout caps the whole.
 */
export async function waitAll(
  client: ApiClient,
  ids: string[],
  statuses: string[] = ['TERMINATED', 'CANCELLED'],
  stallMs = 120_000,
): Promise<Map<string, SessionWire>> {
  const done = new Map<string, SessionWire>();
  const last = new Map<string, SessionWire>();
  const errors = new Map<string, string>();
  return untilDone(
    async () => {
      const left = ids.filter((id) => !done.has(id));
      // A few at a time: the manager of a fault test may be busy recovering.
      for (let i = 0; i < left.length; i += 10) {
        const views = await Promise.all(
          left.slice(i, i + 10).map((id) =>
            client.request<SessionWire>('GET', `/session/${id}`).catch((err: unknown) => {
              // A manager restarting or Redis away: noted, quoted if it never ends; asked again.
              errors.set(id, String(err));
              return null;
            }),
          ),
        );
        for (const v of views) {
          if (v) last.set(v.sessionId, v);
          if (v && statuses.includes(v.status)) done.set(v.sessionId, v);
        }
      }
      if (process.env.BAI_TEST_VERBOSE) {
        const hist: Record<string, number> = {};
        for (const v of last.values()) hist[v.status] = (hist[v.status] ?? 0) + 1;
        process.stderr.write(`waitAll ${new Date().toISOString()} ${JSON.stringify(hist)}\n`);
      }
      return {
        done: done.size === ids.length ? done : null,
        progress: ids.map((id) => `${last.get(id)?.status ?? '-'}${last.get(id)?.attempt ?? ''}`).join(),
      };
    },
    {
      stallMs,
      message: () => {
        const stuck = ids
          .filter((id) => !done.has(id))
          .slice(0, 5)
          .map((id) => {
            const v = last.get(id);
            return v
              ? `${id} ${v.status} ${v.statusInfo} ${JSON.stringify(v.statusData)}`
              : `${id} ${errors.get(id)}`;
          });
        return `${ids.length - done.size} of ${ids.length} sessions not ended; e.g. ${stuck.join('; ')}`;
      },
    },
  );
}

/** Runs `node bin/bai.js <args>` as a child process (a manager or an agent to SIGKILL). */
export class ChildBai {
  readonly child: ChildProcess;
  output = '';
  private readyUrl: Promise<string>;

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, [...guardedNodeArgs(), join(ROOT, 'bin/bai.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      // stdin: the orphan guard's pipe (the process ends if this worker dies).
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.readyUrl = new Promise((resolveUrl, reject) => {
      this.child.stdout!.setEncoding('utf8');
      this.child.stdout!.on('data', (d: string) => {
        this.output += d;
        const m = /"ready":true(?:,"url":"([^"]+)")?/.exec(this.output);
        if (m) resolveUrl(m[1] ?? '');
      });
      this.child.stderr!.setEncoding('utf8');
      this.child.stderr!.on('data', (d: string) => {
        this.output += d;
        if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
      });
      this.child.once('exit', (code, sig) =>
        reject(
          new Error(
            `bai ${args.join(' ')} exited (${code ?? sig}) before ready:\n${this.output.slice(-2000)}`,
          ),
        ),
      );
    });
  }

  ready(): Promise<string> {
    return this.readyUrl;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  exited(): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null)
      return Promise.resolve(this.child.exitCode);
    return new Promise((r) => this.child.once('exit', (code) => r(code)));
  }

  kill(sig: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
  }

  /** Stops it by its pid: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.kill('SIGTERM');
    const t = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited();
    clearTimeout(t);
  }
}

/** What a manager child process needs: the environment `bai manager` reads. */
export function managerEnv(opts: {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  port: number;
  stateDir: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    DATABASE_URL: opts.databaseUrl,
    REDIS_URL: opts.redisUrl,
    BAI_QUEUE_PREFIX: opts.prefix,
    BAI_MANAGER_HOST: '127.0.0.1',
    BAI_MANAGER_PORT: String(opts.port),
    BAI_STATE_DIR: opts.stateDir,
    BAI_AGENT_TIMEOUT_MS: '6000',
    BAI_AGENT_GRACE_MS: '0',
    BAI_RECONCILE_INTERVAL_MS: '1000',
    ...opts.extra,
  };
}

/**
 * An agent in this process, `t${id}-a1`, on the test's Redis (under `prefix`) and Docker engine,
 * its storage in `stateDir`, with room for bursts: for the tests whose managers are children.
 */
export function startBurstAgent(id: string, prefix: string, stateDir: string): Promise<RunningAgent> {
  const env = testEnv();
  return startAgent(
    {
      ...loadAgentConfig({}),
      id: `t${id}-a1`,
      redisUrl: env.redisUrl,
      queuePrefix: prefix,
      dockerHost: env.dockerHost,
      slots: { cpu: 64, mem: 64 * 1024 ** 3 },
      networkMode: 'default',
      storageRoot: join(stateDir, 'storage'),
      heartbeatMs: 500,
    },
    quietLog,
  );
}

/**
 * A test stack on a Redis of its own (so the test may flush, kill and restart it), with an
 * agent roomy enough for bursts and a counter of container starts: the setup of Redis faults.
 */
export async function startRedisFaultStack(opts: { durable?: boolean } = {}): Promise<{
  redis: Service & { dir: string };
  stack: TestStack;
  starts: StartCounter;
}> {
  const redis = await ownRedis(opts);
  const stack = await startTestStack({
    redisUrl: redis.url,
    // These tests are about Redis, not agent loss: while Redis is down no heartbeat arrives,
    // and on a loaded machine its restart can outlast a short timeout, after which (grace 0) the
    // agent's sessions would run again elsewhere by design. Agent loss has tests of its own.
    manager: { agentTimeoutMs: 60_000 },
    agent: { slots: { cpu: 64, mem: 64 * 1024 ** 3 }, concurrency: 8 },
  });
  const starts = new StartCounter(testEnv().dockerHost, `t${stack.id}-`);
  await starts.attached();
  return { redis, stack, starts };
}
