import type { Slots } from '../domain/resources.js';
import type { SessionStatus } from '../domain/status.js';

/** One container of a session, as the agent needs it. */
export interface KernelSpec {
  kernelId: string;
  clusterRole: 'main' | 'sub';
  clusterIdx: number;
  hostname: string;
  slots: Slots;
}

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/** Agent queue, job `run-session`: claim, pull, create and start (or arm the start timer). */
export interface RunSessionJob {
  sessionId: string;
  sessionName: string;
  accessKey: string;
  /** `single-node` or `multi-node` (BACKENDAI_CLUSTER_MODE); absent from older managers' jobs. */
  clusterMode?: string;
  attempt: number;
  image: string;
  registryAuth: RegistryAuth | null;
  startupCommand: string | null;
  bootstrapScript: string | null;
  environ: Record<string, string>;
  /** `path` is the folder's place under the storage root, resolved by the manager. */
  mounts: { name: string; target: string; readOnly: boolean; path?: string }[];
  resourceOpts: Record<string, number>;
  kernels: KernelSpec[];
  /** Epoch ms at which the main container is to be started; null for now. */
  startsAt: number | null;
  batchTimeoutSec: number | null;
  /** X-Request-Id of the request that created the session: the agent's log lines carry it. */
  requestId?: string | null;
}

/** Agent queue, job `destroy-session`: stop its containers (SIGTERM, grace, SIGKILL). */
export interface DestroySessionJob {
  sessionId: string;
  reason: string;
  forced: boolean;
}

/** Agent queue, job `cleanup-session`: the manager recorded the end; remove containers. */
export interface CleanupSessionJob {
  sessionId: string;
  /** Only containers of this attempt go; a later attempt may already run on the same agent. */
  attempt: number;
}

export type AgentJob =
  | { name: 'run-session'; data: RunSessionJob }
  | { name: 'destroy-session'; data: DestroySessionJob }
  | { name: 'cleanup-session'; data: CleanupSessionJob };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isNumber = (v: unknown): v is number => typeof v === 'number';
const isNullOr =
  <T>(check: (v: unknown) => v is T) =>
  (v: unknown): v is T | null =>
    v === null || check(v);

function isKernelSpec(v: unknown): v is KernelSpec {
  return (
    isObject(v) &&
    isString(v.kernelId) &&
    (v.clusterRole === 'main' || v.clusterRole === 'sub') &&
    isNumber(v.clusterIdx) &&
    isString(v.hostname) &&
    isObject(v.slots)
  );
}

function isRunSessionJob(v: unknown): v is RunSessionJob {
  return (
    isObject(v) &&
    isString(v.sessionId) &&
    isNumber(v.attempt) &&
    isString(v.image) &&
    isNullOr(isObject)(v.registryAuth) &&
    isNullOr(isString)(v.startupCommand) &&
    isNullOr(isString)(v.bootstrapScript) &&
    isObject(v.environ) &&
    Array.isArray(v.mounts) &&
    isObject(v.resourceOpts) &&
    Array.isArray(v.kernels) &&
    v.kernels.every(isKernelSpec) &&
    isNullOr(isNumber)(v.startsAt) &&
    isNullOr(isNumber)(v.batchTimeoutSec) &&
    (v.requestId === undefined || isNullOr(isString)(v.requestId))
  );
}

function isDestroySessionJob(v: unknown): v is DestroySessionJob {
  return isObject(v) && isString(v.sessionId) && isString(v.reason) && typeof v.forced === 'boolean';
}

function isCleanupSessionJob(v: unknown): v is CleanupSessionJob {
  return isObject(v) && isString(v.sessionId) && isNumber(v.attempt);
}

/**
 * The agent job a queued job carries, told by its name and checked in the fields the agent
 * relies on; `unknown-job` for a name no agent knows, `malformed` for data that does not
 * fit its name (a manager of another version, or a hand-made job).
 */
export function agentJobOf(
  name: string,
  data: unknown,
): { job: AgentJob } | { error: 'unknown-job' | 'malformed' } {
  switch (name) {
    case 'run-session':
      return isRunSessionJob(data) ? { job: { name, data } } : { error: 'malformed' };
    case 'destroy-session':
      return isDestroySessionJob(data) ? { job: { name, data } } : { error: 'malformed' };
    case 'cleanup-session':
      return isCleanupSessionJob(data) ? { job: { name, data } } : { error: 'malformed' };
    default:
      return { error: 'unknown-job' };
  }
}

/** Reports queue: what agents tell the manager. Handlers are idempotent. */
export interface AgentStartedReport {
  agentId: string;
  scalingGroup: string;
  slots: Slots;
  version: string;
  addr: string;
  /** Backend.AI's name of what the agent runs (x86_64, aarch64…); absent from older agents. */
  architecture?: string;
}

export type ProgressStatus = Extract<
  SessionStatus,
  'PREPARING' | 'PULLING' | 'PREPARED' | 'CREATING' | 'RUNNING'
>;

export interface SessionProgressReport {
  agentId: string;
  sessionId: string;
  attempt: number;
  status: ProgressStatus;
  /**
   * Phases entered before `status`, in order, with their times. The agent sends the quick
   * phases of a start (PREPARING, PREPARED, CREATING) with the next report instead of one job
   * each: a trivial session costs one progress report, not four.
   */
  phases?: { status: ProgressStatus; at: number }[];
  data?: Record<string, unknown>;
  /** Containers, for CREATING/RUNNING. */
  containers?: { kernelId: string; containerId: string }[];
  at: number;
}

export interface KernelExitedReport {
  agentId: string;
  sessionId: string;
  attempt: number;
  kernelId: string;
  exitCode: number;
  timedOut: boolean;
  oomKilled: boolean;
  /** Set when the agent stopped it on request. */
  stoppedFor: string | null;
  /** The tail of the output (at most the agent's limit), opening with a marker when truncated. */
  logs: string;
  /** The output was longer than what `logs` keeps (absent from older agents). */
  logsTruncated?: boolean;
  /** Bytes the kernel printed in all, as far as the agent counted them. */
  logsTotalBytes?: number;
  /** The subs' output, read when the main ended and they were stopped (absent from older agents). */
  subLogs?: { kernelId: string; logs: string; truncated: boolean; totalBytes: number }[];
  startedAt: number | null;
  finishedAt: number;
  /**
   * The RUNNING report the agent held back because the main ended within moments of its start
   * (BAI_RUNNING_REPORT_HOLD_MS): applied before the exit, as if it had been sent on its own.
   * Absent when RUNNING was reported already (and from older agents).
   */
  running?: HeldRunning;
}

/** A RUNNING report carried by the exit (KernelExitedReport.running). */
export type HeldRunning = Pick<SessionProgressReport, 'phases' | 'data' | 'containers' | 'at'>;

export interface SessionFailedReport {
  agentId: string;
  sessionId: string;
  attempt: number;
  /** CANCELLED when it never ran (pull failure), ERROR otherwise. */
  status: 'CANCELLED' | 'ERROR';
  reason: string;
  message: string;
}

export type Report =
  | { name: 'agent-started'; data: AgentStartedReport }
  | { name: 'session-progress'; data: SessionProgressReport }
  | { name: 'kernel-exited'; data: KernelExitedReport }
  | { name: 'session-failed'; data: SessionFailedReport };

/** What an agent publishes every heartbeat (a Redis key with a TTL). */
export interface Heartbeat {
  agentId: string;
  scalingGroup: string;
  at: number;
  slots: Slots;
  occupied: Slots;
  draining: boolean;
  /** Its Docker engine does not answer: nothing should be placed on it meanwhile. */
  engineDown?: boolean;
  /** Sessions the agent holds containers for, with the state it sees. */
  sessions: { sessionId: string; attempt: number; state: 'created' | 'running' | 'exited' }[];
}
