import type { DependencyCondition } from './dependency-condition.js';
import type { Slots } from './resources.js';
import type { RetryPolicy, SessionType } from './session-request.js';
import type { SessionResult, SessionStatus } from './status.js';

/**
 * The session as the API sends it (JSON, camelCase): Backend.AI's legacy REST keys plus what
 * bai adds. One declaration for the server (src/api/session-view.ts builds it), the CLI and the
 * tests, so that a field renamed on one side fails to compile on the others. Types only.
 */

/** A kernel of `GET /session/:ref`. */
export interface KernelWire {
  kernelId: string;
  clusterRole: 'main' | 'sub';
  clusterIdx: number;
  clusterHostname: string;
  agentId: string | null;
  containerId: string | null;
  status: SessionStatus;
  statusInfo: string | null;
  exitCode: number | null;
  occupiedSlots: Slots;
  /** ISO-8601 times. */
  startedAt: string | null;
  terminatedAt: string | null;
}

/** A vfolder mount as the session carries it. */
export interface MountWire {
  name: string;
  target: string;
  readOnly: boolean;
  /** The folder's place under an agent's storage root (`<owner access key>/<name>`), resolved at submit. */
  path?: string;
}

/**
 * One ended attempt of a session: those a retry policy tried again, then the one it ended with
 * (an attempt still running is not listed; `attempt` is its number).
 */
export interface AttemptWire {
  attempt: number;
  /** The agent it was placed on. */
  agentId: string | null;
  /** ISO-8601 times; startedAt null: its container never started. */
  startedAt: string | null;
  endedAt: string;
  /** The main container's exit code; null when it did not exit (agent lost, image pull failed). */
  exitCode: number | null;
  result: SessionResult;
  /** Why it ended: the retry cause (non-zero-exit, agent-lost…) or the session's final statusInfo. */
  reason: string | null;
}

/** The answer of `GET /session/:ref` (and the body of session waits in the CLI). */
export interface SessionWire {
  sessionId: string;
  sessionName: string;
  type: SessionType;
  domainName: string;
  groupName: string;
  ownerAccessKey: string;
  /** The image as requested (an alias or a reference). */
  lang: string;
  image: string;
  scalingGroup: string;
  /** The architecture the request asked for (`x86_64`, `aarch64`…); null: any agent. */
  architecture: string | null;
  agentId: string | null;
  containerId: string | null;
  status: SessionStatus;
  statusInfo: string | null;
  statusData: Record<string, unknown>;
  statusHistory: Record<string, string>;
  result: SessionResult;
  exitCode: number | null;
  occupiedSlots: Slots;
  resourceOpts: Record<string, number>;
  environ: Record<string, string>;
  mounts: MountWire[];
  startupCommand: string | null;
  bootstrapScript: string | null;
  clusterSize: number;
  clusterMode: string;
  priority: number;
  tag: string | null;
  callbackUrl: string | null;
  batchTimeout: number | null;
  /** The ids of the sessions it waits for. */
  dependencies: string[];
  /** The same, each with its condition (afterok, afterany, afternotok). */
  dependencyConditions: { sessionId: string; condition: DependencyCondition }[];
  /** Seconds after startsAt (or creation) by which it must be placed, else CANCELLED start-deadline-exceeded. */
  startDeadline: number | null;
  retryPolicy: RetryPolicy | null;
  attempt: number;
  attempts: AttemptWire[];
  /** ISO-8601 times. */
  startsAt: string | null;
  /** The schedule that created the session and the instant it was created for (ISO UTC); null otherwise. */
  scheduleName: string | null;
  scheduledFor: string | null;
  startedAt: string | null;
  creationTime: string;
  terminationTime: string | null;
  /** Seconds since creation (to termination once ended). */
  age: number;
  kernels: KernelWire[];
  /** The parent of an array job: its children (src/api/array-view.ts). */
  array?: ArrayWire;
  /** A child of an array job: its parent and index. */
  arrayParent?: ArrayParentWire;
}

/** One child in the `array` of its parent's info. */
export interface ArrayChildWire {
  index: number;
  sessionId: string;
  sessionName: string;
  status: SessionStatus;
  result: SessionResult;
  exitCode: number | null;
}

/** An array parent's children: counts by status and a page of children in index order. */
export interface ArrayWire {
  size: number;
  /** Most children placed at once; null: unlimited. */
  parallelism: number | null;
  /** The first index; `spec` is the range as `A-B%P` writes it. */
  start: number;
  spec: string;
  counts: Record<SessionStatus, number>;
  children: { items: ArrayChildWire[]; total: number; limit: number; offset: number };
}

/** What a child's info says of its array. */
export interface ArrayParentWire {
  sessionId: string;
  sessionName: string;
  index: number;
  size: number;
}

/** A line of `GET /sessions`. */
export interface SessionSummaryWire {
  sessionId: string;
  sessionName: string;
  type: SessionType;
  ownerAccessKey: string;
  image: string;
  status: SessionStatus;
  statusInfo: string | null;
  result: SessionResult;
  exitCode: number | null;
  tag: string | null;
  scalingGroup: string;
  priority: number;
  startsAt: string | null;
  /** The schedule that created the session and the instant it was created for (ISO UTC); null otherwise. */
  scheduleName: string | null;
  scheduledFor: string | null;
  createdAt: string;
  terminatedAt: string | null;
}

/** The answer of `GET /sessions`. */
export interface SessionListWire {
  items: SessionSummaryWire[];
  total: number;
  limit: number;
  offset: number;
}
