import type { ResolvedDependency } from '../domain/dependency-condition.js';
import type { SessionSummaryWire, SessionWire } from '../domain/session-wire.js';
import type { KernelRow, SessionAttemptRow, SessionRow } from '../persistence/rows.js';

/** The session info answer: Backend.AI's legacy REST keys plus what bai adds (exit code, result, kernels). */
export function sessionInfo(
  s: SessionRow,
  kernels: KernelRow[],
  dependencies: readonly ResolvedDependency[],
  attempts: SessionAttemptRow[],
): SessionWire {
  const main = kernels.find((k) => k.cluster_role === 'main');
  return {
    sessionId: s.id,
    sessionName: s.name,
    type: s.type,
    domainName: s.domain_name,
    groupName: s.group_name,
    ownerAccessKey: s.access_key,
    lang: s.requested_image,
    image: s.image,
    scalingGroup: s.scaling_group,
    architecture: s.architecture ?? null,
    agentId: s.agent_id,
    containerId: main?.container_id ?? null,
    status: s.status,
    statusInfo: s.status_info,
    statusData: s.status_data,
    statusHistory: s.status_history,
    result: s.result,
    exitCode: s.exit_code,
    occupiedSlots: s.requested_slots,
    resourceOpts: s.resource_opts,
    environ: s.environ,
    mounts: s.mounts,
    startupCommand: s.startup_command,
    bootstrapScript: s.bootstrap_script,
    clusterSize: s.cluster_size,
    clusterMode: s.cluster_mode,
    priority: s.priority,
    tag: s.tag,
    callbackUrl: s.callback_url,
    batchTimeout: s.batch_timeout_sec,
    dependencies: dependencies.map((d) => d.id),
    dependencyConditions: dependencies.map((d) => ({ sessionId: d.id, condition: d.condition })),
    startDeadline: s.start_deadline_seconds ?? null,
    retryPolicy: s.retry_policy,
    attempt: s.attempt,
    attempts: attempts.map((a) => ({
      attempt: a.attempt,
      agentId: a.agent_id,
      startedAt: a.started_at?.toISOString() ?? null,
      endedAt: a.ended_at.toISOString(),
      exitCode: a.exit_code,
      result: a.result,
      reason: a.reason,
    })),
    startsAt: s.starts_at?.toISOString() ?? null,
    startedAt: s.started_at?.toISOString() ?? null,
    creationTime: s.created_at.toISOString(),
    terminationTime: s.terminated_at?.toISOString() ?? null,
    age: Math.round(((s.terminated_at ?? new Date()).getTime() - s.created_at.getTime()) / 1000),
    kernels: kernels.map((k) => ({
      kernelId: k.id,
      clusterRole: k.cluster_role,
      clusterIdx: k.cluster_idx,
      clusterHostname: k.cluster_hostname,
      agentId: k.agent_id,
      containerId: k.container_id,
      status: k.status,
      statusInfo: k.status_info,
      exitCode: k.exit_code,
      occupiedSlots: k.occupied_slots,
      startedAt: k.started_at?.toISOString() ?? null,
      terminatedAt: k.terminated_at?.toISOString() ?? null,
    })),
  };
}

/** A line of the session list. */
export function sessionSummary(s: SessionRow): SessionSummaryWire {
  return {
    sessionId: s.id,
    sessionName: s.name,
    type: s.type,
    ownerAccessKey: s.access_key,
    image: s.image,
    status: s.status,
    statusInfo: s.status_info,
    result: s.result,
    exitCode: s.exit_code,
    tag: s.tag,
    scalingGroup: s.scaling_group,
    priority: s.priority,
    startsAt: s.starts_at?.toISOString() ?? null,
    createdAt: s.created_at.toISOString(),
    terminatedAt: s.terminated_at?.toISOString() ?? null,
  };
}
