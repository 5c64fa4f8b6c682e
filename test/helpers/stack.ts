import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  loadAgentConfig,
  loadManagerConfig,
  type AgentConfig,
  type ManagerConfig,
} from '../../src/config/config.js';
import { clientOf, type ApiClient } from '../../src/cli/client.js';
import { startAgent, type RunningAgent } from '../../src/workers/agent/agent-process.js';
import { startManager, type RunningManager } from '../../src/workers/manager/manager-process.js';
import type { Logger } from '../../src/log/logger.js';
import type { SessionWire } from '../../src/domain/session-wire.js';
import { createTestDatabase, type TestDatabase } from './database.js';
import { testEnv } from './env.js';
import { eventually } from './eventually.js';

export const quietLog: Logger = {
  info() {},
  error(msg, extra) {
    if (process.env.BAI_TEST_VERBOSE) process.stderr.write(`${msg} ${JSON.stringify(extra ?? {})}\n`);
  },
};

/** A teardown step's failure: reported (with BAI_TEST_VERBOSE) and passed over. */
export function teardownError(step: string): (err: unknown) => void {
  return (err) => quietLog.error(`teardown: ${step} failed`, { err: String(err) });
}

export interface TestStack {
  /** Unique per stack: queue prefix, agent ids and container labels derive from it. */
  id: string;
  prefix: string;
  database: TestDatabase;
  manager: RunningManager;
  agents: RunningAgent[];
  client: ApiClient;
  managerConfig: ManagerConfig;
  agentConfig(n: number, overrides?: Partial<AgentConfig>): AgentConfig;
  addAgent(overrides?: Partial<AgentConfig>): Promise<RunningAgent>;
  clientFor(accessKey: string, secretKey: string): ApiClient;
  close(): Promise<void>;
}

/**
 * A manager and agents in this process, on the real services of `npm test`, isolated by a
 * database of its own, a Redis key prefix of its own and agent ids of their own.
 */
export async function startTestStack(
  opts: {
    agents?: number;
    agent?: Partial<AgentConfig>;
    manager?: Partial<ManagerConfig>;
    /** A Redis of the test's own (fault tests flush or kill it); default: the shared one. */
    redisUrl?: string;
    /** The manager's logger (default: quiet). */
    log?: Logger;
    /** A PostgreSQL server of the test's own (the test database is made there). */
    databaseServerUrl?: string;
  } = {},
): Promise<TestStack> {
  const env = { ...testEnv(), ...(opts.redisUrl ? { redisUrl: opts.redisUrl } : {}) };
  const id = randomBytes(4).toString('hex');
  const prefix = `bai-${id}`;
  const database = await createTestDatabase(
    opts.databaseServerUrl ? { serverUrl: opts.databaseServerUrl } : {},
  );
  const stateDir = join(env.tmp, `stack-${id}`);
  mkdirSync(stateDir, { recursive: true });
  const managerConfig: ManagerConfig = {
    ...loadManagerConfig({}),
    databaseUrl: database.url,
    redisUrl: env.redisUrl,
    queuePrefix: prefix,
    port: 0,
    stateDir,
    agentTimeoutMs: 6_000,
    agentGraceMs: 0,
    reconcileIntervalMs: 1_000,
    ...opts.manager,
  };
  const manager = await startManager(managerConfig, opts.log ?? quietLog);
  const agents: RunningAgent[] = [];
  const agentConfig = (n: number, overrides: Partial<AgentConfig> = {}): AgentConfig => ({
    ...loadAgentConfig({}),
    id: `t${id}-a${n}`,
    redisUrl: env.redisUrl,
    queuePrefix: prefix,
    dockerHost: env.dockerHost,
    slots: { cpu: 4, mem: 4 * 1024 ** 3 },
    // The agent's default: kernels without a network get loopback only (no engine sandbox).
    networkMode: 'none',
    loopbackHostsFile: join(stateDir, 'hosts'),
    storageRoot: join(stateDir, 'storage'),
    startBarrierDir: join(stateDir, 'barrier'),
    heartbeatMs: 500,
    stopGraceSeconds: 2,
    ...opts.agent,
    ...overrides,
  });
  const clientFor = (accessKey: string, secretKey: string) => clientOf(manager.url, { accessKey, secretKey });
  const stack: TestStack = {
    id,
    prefix,
    database,
    manager,
    agents,
    client: clientFor(database.admin.accessKey, database.admin.secretKey),
    managerConfig,
    agentConfig,
    async addAgent(overrides = {}) {
      const a = await startAgent(agentConfig(agents.length + 1, overrides), quietLog);
      agents.push(a);
      await waitForAgents(stack, agents.length);
      return a;
    },
    clientFor,
    async close() {
      // Teardown goes on past a part that fails to close (a fault test may have broken it on
      // purpose), and says so when BAI_TEST_VERBOSE is set.
      for (const a of agents) await a.close().catch(teardownError('agent close'));
      await manager.close().catch(teardownError('manager close'));
      await removeContainers(env.dockerHost, id);
      await database.drop().catch(teardownError('database drop'));
    },
  };
  for (let i = 0; i < (opts.agents ?? 1); i++) await stack.addAgent();
  return stack;
}

/** Waits until `n` agents are ALIVE (as the manager's API lists them). */
export async function waitForAgents(stack: TestStack, n: number, timeoutMs = 60_000): Promise<void> {
  let alive = 0;
  await eventually(
    async () => {
      const r = await stack.client.request<{ items: unknown[] }>('GET', '/agents', undefined, {
        status: 'ALIVE',
      });
      alive = r.items.length;
      return alive >= n;
    },
    { timeoutMs, intervalMs: 50, message: () => `${n} agents to register (${alive} did)` },
  );
}

/** Removes every container whose agent label belongs to this stack. */
export async function removeContainers(dockerHost: string, stackId: string): Promise<void> {
  const { DockerAdapter } = await import('../../src/docker/docker-adapter.js');
  const d = new DockerAdapter(dockerHost);
  const all = await d.list(['ai.bai.managed=true']);
  const sessions = new Set<string>();
  for (const c of all) {
    if ((c.labels['ai.bai.agent-id'] ?? '').startsWith(`t${stackId}-`)) {
      sessions.add(c.labels['ai.bai.session-id'] ?? '');
      await d.remove(c.id);
    }
  }
  // Only this stack's networks: another test file's cluster may be starting on the same engine.
  for (const n of await d.listNetworks(['ai.bai.managed=true'])) {
    if (sessions.has(n.replace(/^bai-/, ''))) await d.removeNetwork(n).catch(teardownError('network remove'));
  }
}

/** Polls a session until it reaches one of `statuses` (default: an end). */
export async function waitForStatus(
  client: ApiClient,
  ref: string,
  statuses: string[] = ['TERMINATED', 'CANCELLED'],
  timeoutMs = 120_000,
): Promise<SessionWire> {
  let last: SessionWire | null = null;
  return eventually(
    async () => {
      last = await client.request<SessionWire>('GET', `/session/${ref}`);
      return statuses.includes(last.status) ? last : null;
    },
    {
      timeoutMs,
      intervalMs: 50,
      message: () =>
        `session ${ref} to be ${statuses.join('|')} (it is ${last?.status} (${last?.statusInfo}))`,
    },
  );
}

/** A batch session create body. */
export function batch(command: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { image: 'python', type: 'batch', startupCommand: command, enqueueOnly: true, ...extra };
}
