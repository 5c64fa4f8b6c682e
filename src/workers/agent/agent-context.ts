import type { Redis } from 'ioredis';
import type { AgentConfig } from '../../config/config.js';
import type { DockerAdapter } from '../../docker/docker-adapter.js';
import { withContext, type Logger } from '../../log/logger.js';
import type { AgentMetrics } from '../../metrics/agent-metrics.js';
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
  /** Pull and start durations, containers started (absent: not measured). */
  readonly metrics?: AgentMetrics;
  /** Aborted when the agent closes: Docker waits end, the containers run on. */
  readonly closing: AbortSignal;
}

/** A session's logger, made once per session object (a child logger serialises its bindings). */
const sessionLogs = new WeakMap<
  object,
  { base: Logger; requestId: string | null | undefined; log: Logger }
>();

/** The agent's logger for lines about one session: its id, attempt and creating request's id. */
export function sessionLog(
  ctx: Pick<AgentContext, 'log'>,
  t: { sessionId: string; attempt: number; requestId?: string | null },
): Logger {
  const known = sessionLogs.get(t);
  if (known && known.base === ctx.log && known.requestId === t.requestId) return known.log;
  const log = withContext(ctx.log, {
    sessionId: t.sessionId,
    attempt: t.attempt,
    ...(t.requestId ? { requestId: t.requestId } : {}),
  });
  sessionLogs.set(t, { base: ctx.log, requestId: t.requestId, log });
  return log;
}
