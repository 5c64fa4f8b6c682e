/**
 * Queue and key names. BullMQ forbids ':' in queue names; the prefix isolates deployments and tests.
 * Every key an agent writes has its agent id in it, so a Redis ACL user per agent can be limited
 * to its own keys (see agent-acl.ts).
 */
function safeId(agentId: string): string {
  return agentId.replace(/[^A-Za-z0-9_.-]/g, '_');
}

/**
 * The jobs the manager sends one agent, named `<scaling group>/agent-<id>` so what runs where
 * reads off Redis and any queue dashboard. A group name may hold ':' (which BullMQ forbids in
 * queue names): it is written `%3A`, and '%' is in neither a group nor an agent id, so two
 * (group, id) pairs never share a name.
 */
export function agentQueueName(scalingGroup: string, agentId: string): string {
  return `${scalingGroup.replace(/[^A-Za-z0-9_.-]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)}/agent-${safeId(agentId)}`;
}

/**
 * A glob matching the job queue of this agent in any scaling group (for its Redis ACL user):
 * neither a group nor an id holds '/' or ':', so only this agent's queue keys match.
 */
export function agentQueuePattern(agentId: string): string {
  return `*/agent-${safeId(agentId)}`;
}

/**
 * The name of the reports one agent sends the managers (its stream's keys start with it): one
 * per agent, so the stream a report came through says which agent sent it (only that agent's
 * ACL user may write it).
 */
export function reportsQueueName(agentId: string): string {
  return `reports-${safeId(agentId)}`;
}

/**
 * The stream of one agent's reports (under its reports name, so its ACL user may write it): the
 * agent XADDs, the managers read it in one consumer group (report-stream.ts).
 */
export function reportStreamKey(prefix: string, agentId: string): string {
  return `${prefix}:${reportsQueueName(agentId)}:stream`;
}

/** Marks a report id as sent while its entry is unapplied: the same report is stored once. */
export function reportSeenKey(prefix: string, agentId: string, reportId: string): string {
  return `${prefix}:${reportsQueueName(agentId)}:seen:${reportId}`;
}

/**
 * Set: the managers hold every agent's reports unapplied until it is deleted (maintenance,
 * tests). They look at it every claim pass (2.5 s), and at once on a message on
 * reportsPausedChannel.
 */
export function reportsPausedKey(prefix: string): string {
  return `${prefix}:reports-paused`;
}

/** Pub/sub channel: the reports pause was set or deleted (any message: look at the key now). */
export function reportsPausedChannel(prefix: string): string {
  return `${prefix}:reports-paused`;
}

/**
 * The cleanups the managers send one agent (a stream under its job queue's name, so its ACL
 * user may read it): the agent reads and deletes them (cleanup-stream.ts).
 */
export function cleanupStreamKey(prefix: string, scalingGroup: string, agentId: string): string {
  return `${prefix}:${agentQueueName(scalingGroup, agentId)}:cleanups`;
}

/** Marks a cleanup as sent while the agent has not done it: sent again meanwhile, stored once. */
export function cleanupSeenKey(
  prefix: string,
  scalingGroup: string,
  agentId: string,
  sessionId: string,
  attempt: number,
): string {
  return `${prefix}:${agentQueueName(scalingGroup, agentId)}:cleanup-seen:${sessionId}.${attempt}`;
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

/** Heartbeat keys of every agent (the manager finds agents' reports streams by them). */
export function heartbeatPattern(prefix: string): string {
  return `${prefix}:heartbeat:*`;
}

/** Output of a running kernel, copied by the agent it runs on (hence the agent id in the key). */
export function logStreamKey(prefix: string, agentId: string, kernelId: string): string {
  return `${prefix}:logs:${safeId(agentId)}:${kernelId}`;
}

/** Byte counts of a kernel's live output copy (see log-stream.ts). */
export function logMetaKey(prefix: string, agentId: string, kernelId: string): string {
  return `${logStreamKey(prefix, agentId, kernelId)}:meta`;
}

export function runJobId(sessionId: string, attempt: number): string {
  return `run-${sessionId}-${attempt}`;
}
