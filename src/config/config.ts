import { hostname, cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_IDEMPOTENCY_RETENTION_SECONDS } from '../domain/idempotency.js';

/**
 * Configuration is read once from the environment into frozen objects; nothing else reads
 * process.env. Every process (manager, agent, CLI) takes the part it needs.
 */
export interface ManagerConfig {
  /**
   * PostgreSQL URL. For TLS: `?sslmode=verify-full&sslrootcert=/path/ca.crt` (or
   * BAI_DATABASE_CA_FILE, which adds the sslrootcert).
   */
  databaseUrl: string | null;
  /** `redis://`, `rediss://` (TLS) or `redis+sentinel://h:p,h:p/master` (see queue/redis.ts). */
  redisUrl: string;
  /** CA certificate (PEM) the Redis server's certificate must chain to (BAI_REDIS_CA_FILE). */
  redisCaFile: string | null;
  queuePrefix: string;
  host: string;
  port: number;
  stateDir: string;
  /** An agent silent for this long is LOST. */
  agentTimeoutMs: number;
  /**
   * After `agentTimeoutMs`, how long a LOST agent's sessions wait as disconnected (status
   * unchanged, status_info `agent-disconnected`) for it to come back with their true results,
   * before they end `agent-lost` or run again elsewhere.
   */
  agentGraceMs: number;
  /** How often the reconciler compares PostgreSQL with the queues. */
  reconcileIntervalMs: number;
  /** Sessions whose starts_at is this close are placed early so the agent can pull and create ahead. */
  startLeadMs: number;
  bodyLimitBytes: number;
  rateLimitPerMinute: number;
  /** How long a session may stay in PREPARING/PULLING/CREATING before it is failed. */
  phaseTimeoutMs: number;
  /**
   * Callback destinations allowed although they are inside the network (loopback, private,
   * link-local, unique-local): host names, addresses or CIDRs, each with an optional `:port`.
   */
  callbackAllowList: string[];
  /**
   * How long an Idempotency-Key of `POST /session` is remembered (seconds,
   * BAI_IDEMPOTENCY_RETENTION_SECONDS, default 7 days): within it, a request with the key
   * answers the session the key's first request created; after it, the key is free again.
   */
  idempotencyRetentionSeconds: number;
  /**
   * How long the create path remembers keypairs, resource policies, image resolutions and
   * scaling groups (ms, BAI_SUBMIT_CACHE_MS, default 2,000; 0: read them for every create). An
   * admin's change is forgotten by every manager at once; this bounds it only were that
   * message lost (and for images, aliases and registries, which are not told).
   */
  submitCacheMs: number;
  /**
   * The sessions a dispatch pass reads first in each scaling group (BAI_DISPATCH_PAGE, default
   * 16), from the head of the queue (its first 2 × the page): the rest only when these leave an
   * agent that a later one could use (docs/scheduling.md).
   */
  dispatchPage: number;
  /**
   * History retention (BAI_HISTORY_RETENTION_DAYS, default 30; 0 keeps everything): a session
   * that ended longer ago is deleted with its kernels, stored logs, events, attempts and
   * callback deliveries, and the API answers 404 for it (docs/guarantees.md).
   */
  historyRetentionDays: number;
  /** Sessions deleted per pruning transaction (BAI_HISTORY_PRUNE_BATCH, default 1,000). */
  historyPruneBatch: number;
  /** How often the pruner looks for expired history (BAI_HISTORY_PRUNE_INTERVAL_MS, default 60 s). */
  historyPruneIntervalMs: number;
  /** Bearer token `GET /metrics` wants (BAI_METRICS_TOKEN); null: readable by anyone who reaches it. */
  metricsToken: string | null;
  /**
   * On SIGTERM, how long requests in flight may take to finish (BAI_SHUTDOWN_GRACE_MS, default
   * 25 s, inside Kubernetes' 30 s termination grace) before their connections are closed.
   */
  shutdownGraceMs: number;
  /**
   * TTL of the schedules lease (BAI_SCHEDULE_LEASE_MS, default 5 s): how long a killed holder
   * keeps the other managers from firing. Each instant fires once whatever it is.
   */
  scheduleLeaseMs: number;
}

export interface AgentConfig {
  id: string;
  scalingGroup: string;
  /** The agent's own ACL user belongs in it: `redis://<user>:<password>@host:port` (docs/deploy.md). */
  redisUrl: string;
  redisCaFile: string | null;
  queuePrefix: string;
  dockerHost: string | null;
  /** Declared capacity; defaults to the host's. */
  slots: { cpu: number; mem: number } & Record<string, number>;
  /** Docker network mode for single-kernel sessions ('none' by default: loopback only). */
  networkMode: string;
  /**
   * Where the agent writes the loopback hosts file that kernels without a network mount
   * (BAI_AGENT_HOSTS_FILE, default `<state dir>/hosts`; `off`: none, so mode `none` kernels get
   * the engine's network sandbox). Null too for an engine reached over TCP, whose host does not
   * see the agent's files (container-plan.ts, loopbackOnly).
   */
  loopbackHostsFile: string | null;
  storageRoot: string;
  heartbeatMs: number;
  /** Concurrent pull/create steps. */
  concurrency: number;
  /** Output kept per kernel once it ends: its last bytes (the tail), marked as truncated. */
  logLimitBytes: number;
  /** Bytes (and entries) the live copy of one kernel's output may hold in Redis. */
  logStreamBytes: number;
  logStreamEntries: number;
  /** Docker's json-file `max-size` per container (two files); default twice logLimitBytes. */
  dockerLogMaxBytes: number;
  stopGraceSeconds: number;
  /**
   * How long the RUNNING report of a main just started waits for its exit (BAI_RUNNING_REPORT_HOLD_MS,
   * default 1000; 0: sent at once): a main that ends within it is reported once, its exit carrying
   * RUNNING (docs/lifecycle.md). RUNNING shows at most this much later for the others.
   */
  runningHoldMs: number;
  pidsLimit: number;
  /** Who jobs run as unless the image's ai.backend.uid/gid labels say otherwise. */
  jobUser: { uid: number; gid: number };
  /** With dockerd --userns-remap: the first host id of the remapped range (0: no remapping). */
  usernsIdOffset: number;
  /**
   * Port of the agent's own `GET /metrics` (BAI_AGENT_METRICS_PORT; 0: any free port); null
   * (unset): no metrics server. Bound on BAI_AGENT_METRICS_HOST (default 127.0.0.1).
   */
  metricsPort: number | null;
  metricsHost: string;
  /** Bearer token the agent's `GET /metrics` wants (BAI_METRICS_TOKEN); null: none. */
  metricsToken: string | null;
  /**
   * Host folder of the starts_at barriers' FIFOs (BAI_START_BARRIER_DIR, default
   * `<state dir>/barrier`; a path on the Docker host, like the storage root); null
   * (BAI_START_BARRIER=off): every starts_at session is started by a timer (docs/scheduling.md).
   */
  startBarrierDir: string | null;
  /**
   * How long after a held container's start a restarted agent waits for its shell to show at
   * the barrier when it cannot tell whether the release it did not see end let the command run
   * (BAI_BARRIER_SHELL_WAIT_MS, default 10 s; docs/scheduling.md, "Agent restart while held").
   */
  barrierShellWaitMs: number;
  /**
   * Tests only (BAI_TEST_BLOCK_LOOP_AFTER_PERMIT_MS, default 0: off): after permitting a
   * barrier's release, the agent's main thread busy-loops until this long past the instant, to
   * show the release does not wait for it.
   */
  testBlockLoopAfterPermitMs: number;
}

/** How `bai manager` and `bai agent` log (src/log/logger.ts, docs/logging.md). */
export interface LogConfig {
  /** BAI_LOG_LEVEL: trace, debug, info (default), warn, error, silent. */
  level: string;
  /** BAI_LOG_FORMAT: json or pretty; unset: pretty when stdout is a terminal, else json. */
  format: 'json' | 'pretty' | undefined;
}

export interface ClientConfig {
  endpoint: string;
  accessKey: string | null;
  secretKey: string | null;
  token: string | null;
  domain: string;
  group: string;
  apiVersion: string;
  /**
   * How many times an idempotent call (GET, HEAD, DELETE, or a create with an Idempotency-Key)
   * is retried, with backoff, when the manager answers 503 or refuses the connection
   * (BAI_RETRIES; the CLI's default 6, about 25 s). Unset: no retry.
   */
  retries?: number;
}

type Env = Record<string, string | undefined>;

function num(env: Env, key: string, fallback: number): number {
  const v = env[key];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`${key} must be a number (got "${v}").`);
  return n;
}

export function stateDirOf(env: Env = process.env): string {
  return resolve(env.BAI_STATE_DIR ?? join(process.cwd(), '.bai'));
}

/** DATABASE_URL with BAI_DATABASE_CA_FILE as its sslrootcert (verify-full unless it names a mode). */
export function databaseUrlOf(env: Env): string | null {
  const url = env.DATABASE_URL || null;
  const ca = env.BAI_DATABASE_CA_FILE;
  if (!url || !ca || /[?&]sslrootcert=/.test(url)) return url;
  const mode = /[?&]sslmode=/.test(url) ? '' : '&sslmode=verify-full';
  return `${url}${url.includes('?') ? '&' : '?'}sslrootcert=${encodeURIComponent(resolve(ca))}${mode}`;
}

export function loadManagerConfig(env: Env = process.env): Readonly<ManagerConfig> {
  return Object.freeze({
    databaseUrl: databaseUrlOf(env),
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    redisCaFile: env.BAI_REDIS_CA_FILE || null,
    queuePrefix: env.BAI_QUEUE_PREFIX ?? 'bai',
    host: env.BAI_MANAGER_HOST ?? '127.0.0.1',
    port: num(env, 'BAI_MANAGER_PORT', 8091),
    stateDir: stateDirOf(env),
    agentTimeoutMs: num(env, 'BAI_AGENT_TIMEOUT_MS', 20_000),
    agentGraceMs: num(env, 'BAI_AGENT_GRACE_MS', 180_000),
    reconcileIntervalMs: num(env, 'BAI_RECONCILE_INTERVAL_MS', 5_000),
    startLeadMs: num(env, 'BAI_START_LEAD_MS', 30_000),
    bodyLimitBytes: num(env, 'BAI_BODY_LIMIT_BYTES', 1024 * 1024),
    rateLimitPerMinute: num(env, 'BAI_RATE_LIMIT_PER_MINUTE', 600_000),
    phaseTimeoutMs: num(env, 'BAI_PHASE_TIMEOUT_MS', 15 * 60_000),
    callbackAllowList: (env.BAI_CALLBACK_ALLOW ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== ''),
    idempotencyRetentionSeconds: Math.max(
      1,
      num(env, 'BAI_IDEMPOTENCY_RETENTION_SECONDS', DEFAULT_IDEMPOTENCY_RETENTION_SECONDS),
    ),
    submitCacheMs: Math.max(0, num(env, 'BAI_SUBMIT_CACHE_MS', 2_000)),
    dispatchPage: Math.max(1, Math.floor(num(env, 'BAI_DISPATCH_PAGE', 16))),
    historyRetentionDays: Math.max(0, num(env, 'BAI_HISTORY_RETENTION_DAYS', 30)),
    historyPruneBatch: Math.max(1, Math.floor(num(env, 'BAI_HISTORY_PRUNE_BATCH', 1_000))),
    historyPruneIntervalMs: Math.max(100, num(env, 'BAI_HISTORY_PRUNE_INTERVAL_MS', 60_000)),
    metricsToken: env.BAI_METRICS_TOKEN || null,
    shutdownGraceMs: num(env, 'BAI_SHUTDOWN_GRACE_MS', 25_000),
    scheduleLeaseMs: Math.max(2_000, num(env, 'BAI_SCHEDULE_LEASE_MS', 5_000)),
  });
}

/** The agent's loopback hosts file (AgentConfig.loopbackHostsFile). */
function loopbackHostsFileOf(env: Env, stateDir: string): string | null {
  const setting = env.BAI_AGENT_HOSTS_FILE;
  if (setting === 'off') return null;
  const host = env.DOCKER_HOST || '';
  if (host !== '' && !host.startsWith('unix://')) return null;
  return resolve(setting || join(stateDir, 'hosts'));
}

export function loadAgentConfig(env: Env = process.env): Readonly<AgentConfig> {
  const stateDir = stateDirOf(env);
  return Object.freeze({
    id: env.BAI_AGENT_ID ?? `agent-${hostname()}`,
    scalingGroup: env.BAI_SCALING_GROUP ?? 'default',
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    redisCaFile: env.BAI_REDIS_CA_FILE || null,
    queuePrefix: env.BAI_QUEUE_PREFIX ?? 'bai',
    dockerHost: env.DOCKER_HOST || null,
    slots: {
      cpu: num(env, 'BAI_AGENT_CPU', cpus().length),
      mem: num(env, 'BAI_AGENT_MEM', totalmem()),
    },
    networkMode: env.BAI_AGENT_NETWORK_MODE ?? 'none',
    loopbackHostsFile: loopbackHostsFileOf(env, stateDir),
    storageRoot: resolve(env.BAI_STORAGE_ROOT ?? join(stateDir, 'storage')),
    heartbeatMs: num(env, 'BAI_HEARTBEAT_MS', 3_000),
    concurrency: num(env, 'BAI_AGENT_CONCURRENCY', 8),
    logLimitBytes: Math.max(1024, num(env, 'BAI_LOG_LIMIT_BYTES', 4 * 1024 * 1024)),
    logStreamBytes: Math.max(64 * 1024, num(env, 'BAI_LOG_STREAM_BYTES', 1024 * 1024)),
    logStreamEntries: Math.max(16, num(env, 'BAI_LOG_STREAM_ENTRIES', 10_000)),
    dockerLogMaxBytes: Math.max(
      1024 * 1024,
      num(env, 'BAI_DOCKER_LOG_MAX_BYTES', 2 * num(env, 'BAI_LOG_LIMIT_BYTES', 4 * 1024 * 1024)),
    ),
    stopGraceSeconds: num(env, 'BAI_STOP_GRACE_SECONDS', 5),
    runningHoldMs: Math.max(0, num(env, 'BAI_RUNNING_REPORT_HOLD_MS', 1000)),
    pidsLimit: num(env, 'BAI_PIDS_LIMIT', 1024),
    jobUser: { uid: num(env, 'BAI_JOB_UID', 1000), gid: num(env, 'BAI_JOB_GID', 1000) },
    usernsIdOffset: num(env, 'BAI_USERNS_ID_OFFSET', 0),
    metricsPort: env.BAI_AGENT_METRICS_PORT ? num(env, 'BAI_AGENT_METRICS_PORT', 0) : null,
    metricsHost: env.BAI_AGENT_METRICS_HOST || '127.0.0.1',
    metricsToken: env.BAI_METRICS_TOKEN || null,
    startBarrierDir:
      env.BAI_START_BARRIER === 'off'
        ? null
        : resolve(env.BAI_START_BARRIER_DIR ?? join(stateDir, 'barrier')),
    barrierShellWaitMs: num(env, 'BAI_BARRIER_SHELL_WAIT_MS', 10_000),
    testBlockLoopAfterPermitMs: num(env, 'BAI_TEST_BLOCK_LOOP_AFTER_PERMIT_MS', 0),
  });
}

export function loadLogConfig(env: Env = process.env): Readonly<LogConfig> {
  const format = env.BAI_LOG_FORMAT || undefined;
  if (format !== undefined && format !== 'json' && format !== 'pretty')
    throw new Error(`BAI_LOG_FORMAT must be json or pretty (got "${format}").`);
  return Object.freeze({ level: env.BAI_LOG_LEVEL || 'info', format });
}

export function loadClientConfig(env: Env = process.env): Readonly<ClientConfig> {
  return Object.freeze({
    endpoint: env.BACKEND_ENDPOINT ?? 'http://127.0.0.1:8091',
    accessKey: env.BACKEND_ACCESS_KEY ?? null,
    secretKey: env.BACKEND_SECRET_KEY ?? null,
    token: env.BAI_TOKEN ?? null,
    domain: env.BACKEND_DOMAIN ?? 'default',
    group: env.BACKEND_GROUP ?? 'default',
    apiVersion: env.BACKEND_API_VERSION ?? 'v8.20240915',
    retries: Math.max(0, Math.floor(num(env, 'BAI_RETRIES', 6))),
  });
}
