/** Queue and key names. BullMQ forbids ':' in queue names; the prefix isolates deployments and tests. */
export const REPORTS_QUEUE = 'reports';

export function agentQueueName(agentId: string): string {
  return `agent-${agentId.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

export function heartbeatKey(prefix: string, agentId: string): string {
  return `${prefix}:heartbeat:${agentId}`;
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

/** Byte counts of a kernel's live output copy (see log-stream.ts). */
export function logMetaKey(prefix: string, kernelId: string): string {
  return `${prefix}:logs:${kernelId}:meta`;
}

export function runJobId(sessionId: string, attempt: number): string {
  return `run-${sessionId}-${attempt}`;
}
