import { parseArraySpec, type ArraySpec } from './array-spec.js';
import { ENV_NAME_RE, obj, pick, stringList, type Body } from './body-fields.js';
import { parseDependencies, type DependencyRef } from './dependency-condition.js';
import { InvalidRequest } from './errors.js';
import { parseMountFields, type MountFields } from './mount-request.js';
import { requirePrintable } from './printable.js';
import { parseRetryExitRules, retryCauses } from './retry-rules.js';
import { parseStartDeadline } from './start-deadline.js';
import { parseStartsAt, parseTimeoutSeconds } from './starts-at.js';

export type SessionType = 'batch' | 'interactive';
export type ClusterMode = 'single-node' | 'multi-node';

/** Retry policy (bai extension; Backend.AI users ask for it in lablup/backend.ai#11320). */
export interface RetryPolicy {
  maxAttempts: number;
  backoff: 'fixed' | 'exponential';
  delaySeconds: number;
  on: RetryCause[];
  /** Only these non-zero exit codes are retried (implies `non-zero-exit`); absent: any. */
  onExitCodes?: number[];
  /** The backoff (jitter included) never waits longer. */
  maxDelaySeconds?: number;
}
export type RetryCause = 'agent-lost' | 'image-pull-failed' | 'non-zero-exit';
const RETRY_CAUSES: readonly RetryCause[] = ['agent-lost', 'image-pull-failed', 'non-zero-exit'];

/** A create request after both spellings are folded into one and every field is checked. */
export interface CreateSessionRequest extends MountFields {
  name: string | null;
  image: string;
  type: SessionType;
  group: string;
  domain: string;
  ownerAccessKey: string | null;
  enqueueOnly: boolean;
  maxWaitSeconds: number;
  reuseIfExists: boolean;
  startupCommand: string | null;
  startsAt: Date | null;
  batchTimeoutSeconds: number | null;
  /** Each a session id or name and its condition (bai: afterok, afterany, afternotok). */
  dependencies: DependencyRef[];
  /** Seconds after starts_at (or creation) by which the session must be placed; null: none. */
  startDeadlineSeconds: number | null;
  callbackUrl: string | null;
  priority: number;
  clusterSize: number;
  clusterMode: ClusterMode;
  bootstrapScript: string | null;
  tag: string | null;
  environ: Record<string, string>;
  resources: Record<string, unknown>;
  resourceOpts: Record<string, unknown>;
  scalingGroup: string | null;
  retry: RetryPolicy | null;
  /** Backend.AI's architecture name (`x86_64`, `aarch64`…); null: any agent. */
  architecture: string | null;
  /** An array job (`"0-99%10"`): this many children of the request; null: one session. */
  array: ArraySpec | null;
}

const SESSION_NAME_RE = /^\w[\w.-]*\w$/;
const DEFAULT_PRIORITY = 10;

/**
 * Every spelling a create body accepts for each field, the parser's preferred one first. The
 * parser reads them, and a template's create body is overridden by them (mergeCreateOverrides):
 * one table, so the two cannot drift.
 */
export const CREATE_ALIASES = {
  image: ['image', 'lang'],
  type: ['type', 'sessionType', 'session_type', 'sess_type'],
  name: ['name', 'session_name', 'sessionName', 'clientSessionToken'],
  group: ['group', 'group_name', 'groupName'],
  domain: ['domain', 'domain_name', 'domainName'],
  startupCommand: ['startupCommand', 'startup_command'],
  bootstrapScript: ['bootstrap_script', 'bootstrapScript'],
  architecture: ['architecture', 'arch'],
  scalingGroup: ['scalingGroup', 'scaling_group'],
} as const satisfies Record<string, readonly string[]>;

/** The same for the fields of `config`. */
export const CREATE_CONFIG_ALIASES = {
  mounts: ['mounts'],
  mountMap: ['mount_map', 'mountMap'],
  mountIds: ['mount_ids', 'mountIds'],
  mountIdMap: ['mount_id_map', 'mountIdMap'],
  mountOptions: ['mount_options', 'mountOptions'],
  environ: ['environ', 'envs', 'env'],
  resources: ['resources'],
  resourceOpts: ['resource_opts', 'resourceOpts'],
  scalingGroup: ['scalingGroup', 'scaling_group'],
} as const satisfies Record<string, readonly string[]>;
const A = CREATE_ALIASES;
const C = CREATE_CONFIG_ALIASES;

/** A string field; control characters are refused (tab and line breaks only when `multiline`). */
function str(v: unknown, field: string, max = 4096, multiline = false): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new InvalidRequest(`${field} must be a string.`);
  if (v.length > max) throw new InvalidRequest(`${field} is longer than ${max} characters.`);
  return requirePrintable(v, field, multiline);
}

function bool(v: unknown, field: string): boolean | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 1) return true;
  if (v === 'false' || v === 0) return false;
  throw new InvalidRequest(`${field} must be true or false.`);
}

function int(v: unknown, field: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw new InvalidRequest(`${field} must be an integer from ${min} to ${max}.`);
  }
  return n;
}

function stringMap(v: unknown, field: string): Record<string, string> {
  const o = obj(v, field);
  if (!o) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(o)) {
    requirePrintable(k, `${field} key`);
    if (typeof val === 'number' || typeof val === 'boolean') out[k] = String(val);
    else if (typeof val === 'string') out[k] = requirePrintable(val, `${field}.${k}`, true);
    else throw new InvalidRequest(`${field}.${k} must be a string.`);
  }
  return out;
}

function parseRetry(v: unknown): RetryPolicy | null {
  if (v === undefined) return null;
  const o = obj(v, 'retry') ?? {};
  const maxAttempts = int(pick(o, 'max_attempts', 'maxAttempts'), 'retry.max_attempts', 1, 20) ?? 1;
  const backoffRaw = pick(o, 'backoff') ?? 'exponential';
  if (backoffRaw !== 'fixed' && backoffRaw !== 'exponential') {
    throw new InvalidRequest('retry.backoff must be "fixed" or "exponential".');
  }
  const delayRaw = pick(o, 'delay', 'delay_seconds', 'delaySeconds');
  const delaySeconds = delayRaw === undefined ? 1 : parseTimeoutSeconds(delayRaw, 'retry.delay');
  const on = stringList(pick(o, 'on'), 'retry.on');
  for (const c of on) {
    if (!RETRY_CAUSES.includes(c as RetryCause)) {
      throw new InvalidRequest(`retry.on: unknown cause "${c}"; use ${RETRY_CAUSES.join(', ')}.`);
    }
  }
  const rules = parseRetryExitRules(o, delaySeconds);
  const causes = on.length > 0 ? (on as RetryCause[]) : (['agent-lost', 'image-pull-failed'] as RetryCause[]);
  return {
    maxAttempts,
    backoff: backoffRaw,
    delaySeconds,
    on: retryCauses(causes, rules.onExitCodes),
    ...rules,
  };
}

function parseCallbackUrl(v: unknown): string | null {
  const s = str(v, 'callback_url', 2048);
  if (s === undefined) return null;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new InvalidRequest('callback_url must be an absolute http(s) URL.');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new InvalidRequest('callback_url must be an absolute http(s) URL.');
  }
  return u.toString();
}

/** Backend.AI's names for what Node (and other tools) call `arm64`, `amd64`, `x64`… */
const ARCH_ALIASES: Record<string, string> = {
  arm64: 'aarch64',
  amd64: 'x86_64',
  x64: 'x86_64',
  x32: 'x86',
  i686: 'x86',
  ia32: 'x86',
};

/** An architecture as Backend.AI names it (lower case, aliases folded: `arm64` → `aarch64`). */
export function archName(arch: string): string {
  const a = arch.trim().toLowerCase();
  return ARCH_ALIASES[a] ?? a;
}

function parseArchitecture(v: unknown): string | null {
  const s = str(v, 'architecture', 32);
  if (s === undefined) return null;
  if (!/^[A-Za-z0-9_]+$/.test(s.trim()))
    throw new InvalidRequest('architecture must be a name such as "x86_64" or "aarch64".');
  return archName(s);
}

/**
 * Backend.AI fields bai cannot honour: accepted while null or empty (real clients send them
 * so), a 400 naming the field otherwise — never a silent drop.
 */
const UNSUPPORTED_CONFIG: { keys: string[]; field: string; why: string }[] = [
  {
    keys: ['preopen_ports', 'preopenPorts'],
    field: 'config.preopen_ports',
    why: 'bai sessions expose no service ports',
  },
  {
    keys: ['agent_list', 'agentList'],
    field: 'config.agent_list',
    why: 'bai places sessions itself; use scaling_group and architecture',
  },
  {
    keys: ['attach_network', 'attachNetwork'],
    field: 'config.attach_network',
    why: 'bai has no user networks; cluster kernels share a network of their own',
  },
  {
    keys: ['instanceMemory', 'instance_memory'],
    field: 'config.instanceMemory',
    why: 'use config.resources.mem',
  },
  {
    keys: ['instanceCores', 'instance_cores'],
    field: 'config.instanceCores',
    why: 'use config.resources.cpu',
  },
  { keys: ['instanceGPUs', 'instance_gpus'], field: 'config.instanceGPUs', why: 'use config.resources' },
  { keys: ['instanceTPUs', 'instance_tpus'], field: 'config.instanceTPUs', why: 'use config.resources' },
];

function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

/** A 400 naming the first field of `config` that asks what bai cannot do. */
function refuseUnsupported(config: Body): void {
  for (const u of UNSUPPORTED_CONFIG) {
    for (const k of u.keys) {
      if (!isEmptyValue(config[k]))
        throw new InvalidRequest(`${u.field} is not supported: ${u.why}. Send it null or leave it out.`, {
          data: { field: u.field },
        });
    }
  }
}

/**
 * Folds a `POST /session` body, in camelCase, snake_case or the mix real clients send, into a
 * CreateSessionRequest. Throws InvalidRequest saying which field is wrong.
 */
export function parseCreateSessionBody(input: unknown, now: Date): CreateSessionRequest {
  const body = obj(input, 'The request body');
  if (!body) throw new InvalidRequest('The request body must be a JSON object.');
  const config = obj(pick(body, 'config'), 'config') ?? {};
  refuseUnsupported(config);
  // Preemption fields (Backend.AI 25.x): bai never preempts a session, so any value holds.
  bool(pick(body, 'is_preemptible', 'isPreemptible'), 'is_preemptible');
  int(pick(body, 'job_priority', 'jobPriority'), 'job_priority', -2147483648, 2147483647);

  const name = str(pick(body, ...A.name), 'name', 64) ?? null;
  if (name !== null && (name.length < 4 || !SESSION_NAME_RE.test(name))) {
    throw new InvalidRequest(
      'name must be 4 to 64 characters of letters, digits, "_", "." or "-", starting and ending with a letter, digit or "_".',
    );
  }
  const image = str(pick(body, ...A.image), 'image', 512);
  if (image === undefined || image.trim() === '') throw new InvalidRequest('image is required.');

  const typeRaw = pick(body, ...A.type) ?? 'interactive';
  if (typeRaw !== 'batch' && typeRaw !== 'interactive') {
    throw new InvalidRequest('type must be "batch" or "interactive".');
  }
  const type: SessionType = typeRaw;

  const startupCommand = str(pick(body, ...A.startupCommand), 'startup_command', 65536, true) ?? null;
  if (type === 'batch' && (startupCommand === null || startupCommand.trim() === '')) {
    throw new InvalidRequest('A batch session needs a startup_command.');
  }

  const startsAtRaw = str(pick(body, 'starts_at', 'startsAt'), 'starts_at', 128);
  const batchTimeoutRaw = pick(body, 'batch_timeout', 'batchTimeout');
  if (type !== 'batch' && (startsAtRaw !== undefined || batchTimeoutRaw !== undefined)) {
    throw new InvalidRequest('starts_at and batch_timeout are only for batch sessions.');
  }

  const clusterMode = pick(body, 'clusterMode', 'cluster_mode') ?? 'single-node';
  if (clusterMode !== 'single-node' && clusterMode !== 'multi-node') {
    throw new InvalidRequest('cluster_mode must be "single-node" or "multi-node".');
  }

  const environ = stringMap(pick(config, ...C.environ), 'config.environ');
  for (const k of Object.keys(environ)) {
    if (!ENV_NAME_RE.test(k))
      throw new InvalidRequest(`config.environ: "${k}" is not a valid variable name.`);
  }

  const mountFields = parseMountFields(config);

  const array = parseArraySpec(pick(body, 'array'));
  if (array && type !== 'batch') throw new InvalidRequest('array is only for batch sessions.');

  const priority = int(pick(body, 'priority'), 'priority', 0, 100) ?? DEFAULT_PRIORITY;
  const maxWaitSeconds =
    int(pick(body, 'maxWaitSeconds', 'max_wait_seconds', 'max_wait'), 'max_wait_seconds', 0, 86400) ?? 0;

  return {
    name,
    image: image.trim(),
    type,
    group: str(pick(body, ...A.group), 'group', 64) ?? 'default',
    domain: str(pick(body, ...A.domain), 'domain', 64) ?? 'default',
    ownerAccessKey: str(pick(body, 'owner_access_key', 'ownerAccessKey'), 'owner_access_key', 64) ?? null,
    enqueueOnly: bool(pick(body, 'enqueueOnly', 'enqueue_only'), 'enqueue_only') ?? false,
    maxWaitSeconds,
    reuseIfExists: bool(pick(body, 'reuseIfExists', 'reuse_if_exists', 'reuse'), 'reuse_if_exists') ?? true,
    startupCommand,
    startsAt: startsAtRaw === undefined ? null : parseStartsAt(startsAtRaw, now),
    batchTimeoutSeconds: batchTimeoutRaw === undefined ? null : parseTimeoutSeconds(batchTimeoutRaw),
    dependencies: parseDependencies(pick(body, 'dependencies')),
    startDeadlineSeconds: parseStartDeadline(pick(body, 'startDeadline', 'start_deadline')),
    callbackUrl: parseCallbackUrl(pick(body, 'callback_url', 'callbackUrl', 'callbackURL')),
    priority,
    // At the root since API v6.20200815; older clients send it in config.
    clusterSize:
      int(
        pick(body, 'clusterSize', 'cluster_size') ?? pick(config, 'clusterSize', 'cluster_size'),
        'cluster_size',
        1,
        64,
      ) ?? 1,
    clusterMode,
    bootstrapScript: str(pick(body, ...A.bootstrapScript), 'bootstrap_script', 65536, true) ?? null,
    tag: str(pick(body, 'tag'), 'tag', 256) ?? null,
    ...mountFields,
    environ,
    resources: obj(pick(config, ...C.resources), 'config.resources') ?? {},
    resourceOpts: obj(pick(config, ...C.resourceOpts), 'config.resource_opts') ?? {},
    scalingGroup:
      str(pick(config, ...C.scalingGroup) ?? pick(body, ...A.scalingGroup), 'scaling_group', 64) ?? null,
    retry: parseRetry(pick(body, 'retry', 'retry_policy', 'retryPolicy')),
    architecture: parseArchitecture(pick(body, ...A.architecture)),
    array,
  };
}
