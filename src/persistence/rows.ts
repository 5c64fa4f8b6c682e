import type { SessionResult, SessionStatus } from '../domain/status.js';
import type { Slots } from '../domain/resources.js';
import type { RetryPolicy } from '../domain/session-request.js';
import type { MountWire } from '../domain/session-wire.js';

/** Raw rows as PostgreSQL returns them (snake_case); stores map them for callers. */
export interface SessionRow {
  id: string;
  name: string;
  access_key: string;
  domain_name: string;
  group_name: string;
  scaling_group: string;
  type: 'batch' | 'interactive';
  status: SessionStatus;
  status_info: string | null;
  status_data: Record<string, unknown>;
  status_history: Record<string, string>;
  result: SessionResult;
  exit_code: number | null;
  image: string;
  requested_image: string;
  startup_command: string | null;
  bootstrap_script: string | null;
  environ: Record<string, string>;
  mounts: MountSpec[];
  requested_slots: Slots;
  resource_opts: Record<string, number>;
  cluster_size: number;
  cluster_mode: string;
  starts_at: Date | null;
  started_at: Date | null;
  terminated_at: Date | null;
  batch_timeout_sec: number | null;
  /** Cancel the first attempt when not placed this long after starts_at (or creation). */
  start_deadline_seconds: number | null;
  callback_url: string | null;
  priority: number;
  tag: string | null;
  retry_policy: RetryPolicy | null;
  attempt: number;
  attempts: AttemptRecord[];
  retry_after: Date | null;
  /** Out of the queue until due: a starts_at beyond the horizon, or a retry's backoff (the survey's flag). */
  due_later?: boolean;
  agent_id: string | null;
  /** Asked by the request; null: any agent. */
  architecture: string | null;
  /** X-Request-Id of the creating request (logs correlate on it). */
  request_id?: string | null;
  /** Parent of an array: its children's count and parallelism (null: unlimited); null otherwise. */
  array_size: number | null;
  array_parallelism: number | null;
  /** Child of an array: its parent and index; null otherwise. */
  array_parent_id: string | null;
  array_index: number | null;
  /** Created by a schedule: its id, its name and the instant it was created for; null otherwise. */
  schedule_id?: string | null;
  schedule_name?: string | null;
  scheduled_for?: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** Stored as JSON and sent as is: one shape, declared with the wire types. */
export type MountSpec = MountWire;
/** `sessions.attempts`: the retried attempts (the report handler reads their agents); the API shows session_attempts. */
export interface AttemptRecord {
  attempt: number;
  agentId: string | null;
  status: SessionStatus;
  reason: string | null;
  exitCode: number | null;
  endedAt: string;
}

/** A row of `session_attempts`: one ended attempt of a session (src/persistence/session-attempts.ts). */
export interface SessionAttemptRow {
  session_id: string;
  attempt: number;
  agent_id: string | null;
  started_at: Date | null;
  ended_at: Date;
  exit_code: number | null;
  result: SessionResult;
  reason: string | null;
}

export interface KernelRow {
  id: string;
  session_id: string;
  cluster_role: 'main' | 'sub';
  cluster_idx: number;
  cluster_hostname: string;
  agent_id: string | null;
  status: SessionStatus;
  status_info: string | null;
  status_history: Record<string, string>;
  container_id: string | null;
  exit_code: number | null;
  occupied_slots: Slots;
  logs: string | null;
  logs_truncated: boolean;
  /** bigint: a string from PostgreSQL. */
  logs_bytes: string | number | null;
  created_at: Date;
  started_at: Date | null;
  terminated_at: Date | null;
}

/** A kernel row as a move returns it: every column but its output (which may be large). */
export type MovedKernel = Omit<KernelRow, 'logs'>;
export const MOVED_KERNEL_COLUMNS = [
  'id',
  'session_id',
  'cluster_role',
  'cluster_idx',
  'cluster_hostname',
  'agent_id',
  'status',
  'status_info',
  'status_history',
  'container_id',
  'exit_code',
  'occupied_slots',
  'logs_truncated',
  'logs_bytes',
  'created_at',
  'started_at',
  'terminated_at',
] as const satisfies readonly (keyof MovedKernel)[];

/** The session columns a run job is built from (run-job.ts): what a placement reads back. */
export const PLACED_SESSION_COLUMNS = [
  'id',
  'name',
  'access_key',
  'domain_name',
  'cluster_mode',
  'attempt',
  'image',
  'startup_command',
  'bootstrap_script',
  'environ',
  'mounts',
  'resource_opts',
  'starts_at',
  'batch_timeout_sec',
  'request_id',
] as const satisfies readonly (keyof SessionRow)[];
export type PlacedSession = Pick<SessionRow, (typeof PLACED_SESSION_COLUMNS)[number]>;

/** The kernel columns a run job is built from. */
export type PlacedKernel = Pick<
  KernelRow,
  'id' | 'cluster_role' | 'cluster_idx' | 'cluster_hostname' | 'occupied_slots'
>;

/** The order of `kernels()`: cluster_role (main before sub), then cluster_idx. */
export function byClusterPosition(
  a: Pick<KernelRow, 'cluster_role' | 'cluster_idx'>,
  b: Pick<KernelRow, 'cluster_role' | 'cluster_idx'>,
): number {
  if (a.cluster_role !== b.cluster_role) return a.cluster_role < b.cluster_role ? -1 : 1;
  return a.cluster_idx - b.cluster_idx;
}

export interface KeypairRow {
  access_key: string;
  secret_key: string;
  user_email: string;
  domain_name: string;
  role: 'user' | 'admin' | 'superadmin';
  is_active: boolean;
  resource_policy: string;
  webhook_secret: string;
  rate_limit: number | null;
  /** Run when a create request brings no bootstrap_script of its own. */
  bootstrap_script: string | null;
  created_at: Date;
}

export interface ResourcePolicyRow {
  name: string;
  max_concurrent_sessions: number;
  max_pending_session_count: number | null;
  max_priority: number;
  total_resource_slots: Slots;
}

export interface AgentRow {
  id: string;
  scaling_group: string;
  status: 'ALIVE' | 'LOST' | 'TERMINATED';
  status_info: string | null;
  available_slots: Slots;
  /** x86_64, aarch64…, as the agent reported it at its start. */
  architecture: string;
  schedulable: boolean;
  version: string;
  addr: string;
  first_contact: Date;
  last_heartbeat: Date;
  /** Placements committed on the agent (bigint, as text): the guard of the next one (placement-commit.ts). */
  placements: string;
}

export interface ImageRow {
  name: string;
  registry: string;
  labels: Record<string, string>;
}

export interface SessionEventRow {
  id: number;
  session_id: string;
  kernel_id: string | null;
  access_key: string;
  name: string;
  data: Record<string, unknown>;
  created_at: Date;
}

/** An idempotency key of `POST /session`: the request it came with and the session it created. */
export interface IdempotencyKeyRow {
  access_key: string;
  key: string;
  /** sha256 (hex) of the canonical request body without the key (src/domain/idempotency.ts). */
  request_hash: string;
  session_id: string;
  created_at: Date;
}
