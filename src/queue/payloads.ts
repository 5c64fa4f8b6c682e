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

/** Reports queue: what agents tell the manager. Handlers are idempotent. */
export interface AgentStartedReport {
  agentId: string;
  scalingGroup: string;
  slots: Slots;
  version: string;
  addr: string;
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
  startedAt: number | null;
  finishedAt: number;
}

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
