/** Queue and key names. BullMQ forbids ':' in queue names; the prefix isolates deployments and tests. */
export const REPORTS_QUEUE = 'reports';

export function agentQueueName(agentId: string): string {
  return `agent-${agentId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

export function heartbeatKey(prefix: string, agentId: string): string {
  return `${prefix}:heartbeat:${agentId}`;
}

/**
 * Attempts (`sessionId:attempt`) that ran on this agent and were ended or replaced by the
 * manager while the agent was out of reach: the agent must not start or report them.
 */
export function supersededKey(prefix: string, agentId: string): string {
  return `${prefix}:superseded:${agentId}`;
}

export function eventsChannel(prefix: string): string {
  return `${prefix}:events`;
}

export function leaseKey(prefix: string, name: string): string {
  return `${prefix}:lease:${name}`;
}

export function logStreamKey(prefix: string, kernelId: string): string {
  return `${prefix}:logs:${kernelId}`;
}

export function runJobId(sessionId: string, attempt: number): string {
  return `run-${sessionId}-${attempt}`;
}
