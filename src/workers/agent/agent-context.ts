import type { Redis } from 'ioredis';
import type { AgentConfig } from '../../config/config.js';
import type { DockerAdapter } from '../../docker/docker-adapter.js';
import type { Logger } from '../../log/logger.js';
import type { Allocator } from './allocator.js';
import type { EngineMonitor } from './engine-monitor.js';
import type { AgentReports } from './reports.js';
import type { SessionTable } from './tracked.js';

/** What the agent's parts share: its settings, its engine and Redis, its ledger and sessions. */
export interface AgentContext {
  readonly config: AgentConfig;
  readonly docker: DockerAdapter;
  readonly redis: Redis;
  readonly log: Logger;
  readonly engine: EngineMonitor;
  readonly allocator: Allocator;
  readonly sessions: SessionTable;
  readonly reports: AgentReports;
  /** Aborted when the agent closes: Docker waits end, the containers run on. */
  readonly closing: AbortSignal;
}
