import type { TestFn } from 'ava';
import Docker from 'dockerode';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testEnv } from './env.js';
import { fileFixture } from './file-fixture.js';
import { guardedNodeArgs } from './orphan-guard-args.js';
import { startTestStack, type TestStack } from './stack.js';

const BIN = resolve(fileURLToPath(import.meta.url), '../../../../bin/bai.js');

/**
 * `bai agent` as child processes of a test stack, as an operator runs it: so a test can
 * SIGKILL, SIGTERM or SIGUSR2 it and start it again with the same id.
 */
export class ChildAgents {
  private readonly children = new Set<ChildProcess>();

  constructor(private readonly stack: TestStack) {}

  /**
   * Starts agent `n` with the stack's settings; resolves once it says it is ready. `onOutput`
   * sees its standard output as it comes, from its start (what it logs before it is ready).
   */
  async spawn(
    n: number,
    extraEnv: Record<string, string> = {},
    onOutput?: (text: string) => void,
  ): Promise<ChildProcess> {
    const cfg = this.stack.agentConfig(n);
    const env = testEnv();
    const child = spawn(process.execPath, [...guardedNodeArgs(), BIN, 'agent'], {
      env: {
        PATH: process.env.PATH,
        BAI_AGENT_ID: cfg.id,
        REDIS_URL: env.redisUrl,
        BAI_QUEUE_PREFIX: this.stack.prefix,
        DOCKER_HOST: env.dockerHost,
        BAI_AGENT_NETWORK_MODE: 'default',
        BAI_STORAGE_ROOT: cfg.storageRoot,
        BAI_AGENT_CPU: '4',
        BAI_AGENT_MEM: String(4 * 1024 ** 3),
        BAI_HEARTBEAT_MS: '500',
        BAI_STOP_GRACE_SECONDS: '2',
        BAI_STATE_DIR: join(env.tmp, `agent-state-${this.stack.id}-${n}`),
        ...extraEnv,
      },
      // stdin: the orphan guard's pipe (the agent ends if this worker dies).
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.children.add(child);
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    await new Promise<void>((ok, fail) => {
      let out = '';
      child.stdout!.on('data', (b: Buffer) => {
        onOutput?.(b.toString());
        out += b.toString();
        if (out.includes('"ready":true')) ok();
      });
      child.on('exit', (code) => fail(new Error(`agent exited ${code}: ${err}`)));
    });
    return child;
  }

  /** Signals a child and waits for it to exit; its exit code. */
  async stop(child: ChildProcess, sig: NodeJS.Signals): Promise<number | null> {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const done = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
    child.kill(sig);
    const code = await done;
    this.children.delete(child);
    return code;
  }

  /** Resident memory of a child (VmRSS), in bytes; null once it is gone. */
  static rssBytes(child: ChildProcess): number | null {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : null;
    } catch {
      // Expected: ENOENT, the child is gone.
      return null;
    }
  }

  /** SIGKILLs every child still running (test teardown). */
  killAll(): void {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  }
}

/** A test stack whose agents are child processes (ChildAgents), and its Docker engine. */
export interface ChildAgentStack {
  readonly stack: TestStack;
  readonly agents: ChildAgents;
  readonly docker: Docker;
  /** The engine's containers, stopped ones too, that carry `label` (`key=value`). */
  containersOf(label: string): Promise<Docker.ContainerInfo[]>;
  /** Creates a session as the stack's admin; its id. */
  create(body: Record<string, unknown>): Promise<string>;
}

/**
 * A ChildAgentStack for the tests of one file, started before they run (no agent yet; the
 * manager declares an agent LOST after `agentTimeoutMs` without a heartbeat) and closed after,
 * its agents killed.
 */
export function childAgentStack(test: TestFn, agentTimeoutMs: number): ChildAgentStack {
  return fileFixture<ChildAgentStack>(
    test,
    async (into) => {
      const stack = await startTestStack({ agents: 0, manager: { agentTimeoutMs } });
      const docker = new Docker({ socketPath: testEnv().dockerHost.replace(/^unix:\/\//, '') });
      Object.assign(into, {
        stack,
        agents: new ChildAgents(stack),
        docker,
        containersOf: (label: string) => docker.listContainers({ all: true, filters: { label: [label] } }),
        create: async (body: Record<string, unknown>) =>
          (await stack.client.request<{ sessionId: string }>('POST', '/session', body)).sessionId,
      });
    },
    async (made) => {
      made.agents?.killAll();
      await made.stack?.close();
    },
  );
}
