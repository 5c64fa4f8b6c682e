import { DEFAULT_SLOTS } from './admission.js';
import { InvalidRequest } from './errors.js';
import { dockerLogOptions } from './output-tail.js';
import type { Slots } from './resources.js';

/** Labels every bai container carries: how an agent finds its own after a restart. */
export const LABEL = {
  managed: 'ai.bai.managed',
  session: 'ai.bai.session-id',
  kernel: 'ai.bai.kernel-id',
  agent: 'ai.bai.agent-id',
  attempt: 'ai.bai.attempt',
  role: 'ai.bai.cluster-role',
  startsAt: 'ai.bai.starts-at',
  batchTimeout: 'ai.bai.batch-timeout',
  /** What the session holds, on its main container only: re-adopted into the agent's ledger. */
  slots: 'ai.bai.slots',
} as const;

export const WORK_DIR = '/home/work';

/** A storage folder name: one path segment, no dot-dot, nothing absolute. */
const FOLDER_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Checks a mount request before anything reaches Docker: `name` must be a plain folder name,
 * `target` a path inside the container (relative targets land under /home/work) with no `..`.
 * Returns the absolute container target.
 */
export function mountTarget(name: string, target: string | undefined): string {
  if (!FOLDER_RE.test(name) || name === '.' || name === '..' || name.includes('..')) {
    throw new InvalidRequest(
      `Mount "${name}" is not a storage folder name (host paths and ".." are refused).`,
    );
  }
  const t = (target ?? name).trim();
  if (t === '' || t.split('/').some((seg) => seg === '..')) {
    throw new InvalidRequest(`Mount target "${t}" for "${name}" must not contain "..".`);
  }
  const abs = t.startsWith('/') ? t : `${WORK_DIR}/${t}`;
  if (abs === '/' || /^\/(proc|sys|dev|etc|bin|sbin|usr|lib|lib64)(\/|$)/.test(abs)) {
    throw new InvalidRequest(`Mount target "${abs}" would shadow a system folder.`);
  }
  return abs.replace(/\/+$/, '');
}

/** The cluster's replicas per role as Backend.AI writes them: `main:1,sub:2` (roles sorted). */
export function clusterReplicas(roles: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const r of [...roles].sort()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, n]) => `${r}:${n}`).join(',');
}

/**
 * A kernel's environment as Backend.AI's manager sets it: the user's `environ` first, then the
 * `BACKENDAI_*` variables over it (so a user cannot override them, as in Backend.AI), then
 * bai's own (`BAI_ATTEMPT`, the attempt number from 1; `HOME`, the work dir).
 * `BACKENDAI_CLUSTER_IDX` is 1-based per role, `BACKENDAI_CLUSTER_HOST` the kernel's hostname
 * (`main1`, `sub1`…), `BACKENDAI_CLUSTER_HOSTS` every kernel's in kernel order,
 * `BACKENDAI_CLUSTER_LOCAL_RANK` the 0-based position in that order.
 */
function kernelEnvironment(input: {
  sessionId: string;
  sessionName: string;
  accessKey: string;
  image: string;
  attempt: number;
  clusterMode: string;
  kernel: { kernelId: string; clusterRole: 'main' | 'sub'; clusterIdx: number; hostname: string };
  kernels: readonly { kernelId: string; clusterRole: string; hostname: string }[];
  user: Record<string, string>;
}): Record<string, string> {
  const k = input.kernel;
  return {
    ...input.user,
    BACKENDAI_SESSION_ID: input.sessionId,
    BACKENDAI_SESSION_NAME: input.sessionName,
    BACKENDAI_ACCESS_KEY: input.accessKey,
    BACKENDAI_KERNEL_ID: k.kernelId,
    BACKENDAI_KERNEL_IMAGE: input.image,
    BACKENDAI_CLUSTER_ROLE: k.clusterRole,
    BACKENDAI_CLUSTER_IDX: String(k.clusterIdx),
    BACKENDAI_CLUSTER_LOCAL_RANK: String(input.kernels.findIndex((x) => x.kernelId === k.kernelId)),
    BACKENDAI_CLUSTER_HOST: k.hostname,
    BACKENDAI_CLUSTER_HOSTS: input.kernels.map((x) => x.hostname).join(','),
    BACKENDAI_CLUSTER_REPLICAS: clusterReplicas(input.kernels.map((x) => x.clusterRole)),
    BACKENDAI_CLUSTER_SIZE: String(input.kernels.length),
    BACKENDAI_CLUSTER_MODE: input.clusterMode,
    BAI_ATTEMPT: String(input.attempt),
    HOME: WORK_DIR,
  };
}

/** What a sub kernel does once its bootstrap ran: idle until the main ends and it is stopped. */
const SUB_IDLE = 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done';

/**
 * The command a kernel runs. Every kernel runs the bootstrap script first (as in Backend.AI):
 * that is where a sub starts what the main talks to (an MPI daemon, a server). Then the main
 * runs the startup command through a shell and subs idle until the main ends.
 */
function kernelCommand(
  role: 'main' | 'sub',
  startupCommand: string | null,
  bootstrap: string | null,
): string[] | null {
  const boot = bootstrap !== null && bootstrap.trim() !== '' ? bootstrap : null;
  if (role === 'sub') return ['/bin/sh', '-c', boot ? `${boot}\n${SUB_IDLE}` : SUB_IDLE];
  const parts = [boot, startupCommand].filter((s): s is string => s !== null && s.trim() !== '');
  if (parts.length === 0) return null;
  return ['/bin/sh', '-c', parts.join('\n')];
}

/** Quotes a string for a POSIX shell. */
export function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * What Docker is asked to create for one container. The hardening every container gets
 * whatever the spec says (no privileges, every capability dropped before `capAdd`, no new
 * privileges, a bounded json-file log) is `CONTAINER_HARDENING`.
 */
export interface ContainerSpec {
  name: string;
  image: string;
  /** Replaces the image's ENTRYPOINT (then Docker ignores the image's CMD); absent: the image's. */
  entrypoint?: string[] | null;
  cmd: string[] | null;
  env: Record<string, string>;
  labels: Record<string, string>;
  workingDir: string;
  hostname: string;
  nanoCpus: number;
  memoryBytes: number;
  pidsLimit: number;
  shmBytes: number | null;
  networkMode: string;
  /**
   * No network set up at all (Docker's `NetworkDisabled`): the container keeps its own loopback
   * and nothing else, as in mode `none`, without the engine's network sandbox (see
   * loopbackOnly). Absent: false.
   */
  networkDisabled?: boolean;
  networkAliases: string[];
  binds: string[];
  capAdd: string[];
  /** `uid:gid` the command runs as; null: the image's own user. */
  user?: string | null;
  /** tmpfs mounts: container path → mount options. */
  tmpfs?: Record<string, string>;
  /** json-file options (`max-size`, `max-file`): the engine's copy of the output is bounded. */
  logOptions: Record<string, string>;
}

/** Applied to every container bai creates, whatever its spec. */
export const CONTAINER_HARDENING = {
  privileged: false,
  capDrop: ['ALL'],
  securityOpt: ['no-new-privileges'],
  init: false,
  logDriver: 'json-file',
} as const;

/** The only capabilities a kernel gets back (on top of CapDrop ALL): file ownership, users, signals. */
export const KERNEL_CAPABILITIES = ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'SETGID', 'SETUID', 'KILL'] as const;

/** The internal bridge network of a cluster session. */
export function clusterNetworkName(sessionId: string): string {
  return `bai-${sessionId}`;
}

/** The session a cluster network belongs to (see clusterNetworkName). */
export function sessionOfNetwork(network: string): string {
  return network.replace(/^bai-/, '');
}

/**
 * A container's name. A later attempt may run on the same engine while a stale one is still
 * there (two agents on one host, an agent back after its grace window): names must not collide.
 */
export function containerName(kernelId: string, attempt: number): string {
  return attempt > 1 ? `bai-${kernelId}.${attempt}` : `bai-${kernelId}`;
}

/**
 * Whether a job's containers are listed only if their create finds the name taken: a first
 * attempt (no other attempt's containers can exist) of one kernel (one create, nothing made
 * before it) with no start time (no start barrier prepared for it). Its one container's name
 * (containerName) is the attempt's own: a container an earlier delivery left makes the create
 * answer 409.
 */
export function listsAtConflict(job: {
  attempt: number;
  kernels: readonly unknown[];
  startsAt: number | null;
}): boolean {
  return job.attempt === 1 && job.kernels.length === 1 && job.startsAt === null;
}

/** Labels of a cluster session's network: the agent finds and removes its own. */
export function networkLabels(sessionId: string, agentId: string): Record<string, string> {
  return { [LABEL.managed]: 'true', [LABEL.session]: sessionId, [LABEL.agent]: agentId };
}

/** Subs are created first, so the main's peers exist when it starts. */
export function creationOrder<K extends { clusterRole: 'main' | 'sub' }>(kernels: readonly K[]): K[] {
  return [...kernels].sort((a, b) =>
    a.clusterRole === b.clusterRole ? 0 : a.clusterRole === 'sub' ? -1 : 1,
  );
}

/** One kernel of a session, as its container is planned. */
export interface PlannedKernel {
  kernelId: string;
  clusterRole: 'main' | 'sub';
  clusterIdx: number;
  hostname: string;
  slots: Slots;
}

/** Everything a kernel's container depends on: the session, the agent's settings, the host. */
export interface KernelPlanInput {
  session: {
    sessionId: string;
    sessionName: string;
    accessKey: string;
    /** Absent in jobs of a manager older than this field: single-node. */
    clusterMode?: string;
    attempt: number;
    image: string;
    startupCommand: string | null;
    bootstrapScript: string | null;
    environ: Record<string, string>;
    resourceOpts: Record<string, number>;
    kernels: readonly PlannedKernel[];
    startsAt: number | null;
    batchTimeoutSec: number | null;
  };
  kernel: PlannedKernel;
  /** What the whole session holds (labelled on the main, for re-adoption). */
  sessionSlots: Slots;
  agentId: string;
  /** The user the command runs as (see job-user.ts). */
  user: { uid: number; gid: number };
  /** Storage folders, `host:target:mode`. */
  binds: string[];
  /** The session's cluster network, or null for a single kernel. */
  network: string | null;
  agent: {
    networkMode: string;
    /**
     * A hosts file on the engine's host that names the loopback (LOOPBACK_HOSTS); null or
     * absent: a `none` kernel gets the engine's network sandbox (see loopbackOnly).
     */
    loopbackHostsFile?: string | null;
    pidsLimit: number;
    logLimitBytes: number;
    dockerLogMaxBytes?: number;
  };
  /** Cores the host has: Docker refuses a CPU quota above them. */
  hostCpus: number;
}

/** The container of one kernel: command, environment, labels, user, limits and capabilities. */
export function kernelContainer(input: KernelPlanInput): ContainerSpec {
  const { session: s, kernel: k, user } = input;
  const workDirMounted = input.binds.some((bind) => bind.split(':')[1] === WORK_DIR);
  const hostsFile = loopbackOnly(input);
  return {
    name: containerName(k.kernelId, s.attempt),
    image: s.image,
    cmd: kernelCommand(k.clusterRole, s.startupCommand, s.bootstrapScript),
    env: kernelEnvironment({
      sessionId: s.sessionId,
      sessionName: s.sessionName,
      accessKey: s.accessKey,
      image: s.image,
      attempt: s.attempt,
      clusterMode: s.clusterMode ?? 'single-node',
      kernel: k,
      kernels: s.kernels,
      user: s.environ,
    }),
    labels: {
      [LABEL.managed]: 'true',
      [LABEL.session]: s.sessionId,
      [LABEL.kernel]: k.kernelId,
      [LABEL.agent]: input.agentId,
      [LABEL.attempt]: String(s.attempt),
      [LABEL.role]: k.clusterRole,
      [LABEL.startsAt]: s.startsAt === null ? '' : String(s.startsAt),
      [LABEL.batchTimeout]: s.batchTimeoutSec === null ? '' : String(s.batchTimeoutSec),
      [LABEL.slots]: JSON.stringify(k.clusterRole === 'main' ? input.sessionSlots : {}),
    },
    workingDir: WORK_DIR,
    hostname: k.hostname,
    user: `${user.uid}:${user.gid}`,
    // HOME is the work dir: a fresh one the job's user owns (the image's may be root's),
    // unless a storage folder is mounted there itself.
    tmpfs: workDirMounted
      ? {}
      : { [WORK_DIR]: `rw,exec,nosuid,nodev,mode=0755,uid=${user.uid},gid=${user.gid}` },
    // Docker refuses a CPU quota above the host's cores; an agent may declare more than it has.
    nanoCpus: Math.min(k.slots.cpu ?? DEFAULT_SLOTS.cpu, input.hostCpus) * 1e9,
    memoryBytes: k.slots.mem ?? DEFAULT_SLOTS.mem,
    pidsLimit: input.agent.pidsLimit,
    shmBytes: s.resourceOpts.shmem ?? null,
    networkMode: input.network ?? input.agent.networkMode,
    networkAliases: input.network ? [k.hostname] : [],
    ...(hostsFile ? { networkDisabled: true } : {}),
    binds: hostsFile ? [...input.binds, `${hostsFile}:/etc/hosts:ro`] : input.binds,
    capAdd: [...KERNEL_CAPABILITIES],
    logOptions: dockerLogOptions(input.agent.logLimitBytes, input.agent.dockerLogMaxBytes),
  };
}

/**
 * What Docker's mode `none` writes to a container's /etc/hosts: the loopback names. Mounted
 * read-only into a kernel that runs without any network (loopbackOnly), whose image's own
 * file is usually empty, so `localhost` resolves there as it does under `none`.
 */
export const LOOPBACK_HOSTS = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
  '',
].join('\n');

/**
 * The hosts file to mount when a kernel is to have no network (a single kernel, the agent's
 * mode `none`): it is then created with networking disabled instead, which gives it the same
 * thing, its own loopback and no other interface, without the engine's network sandbox (a
 * network namespace of its own that dockerd makes, mounts and tears down for every container:
 * about 100 ms of the machine's CPU and 90 ms of the create-to-exit time each, measured in
 * docs/benchmarks.md, "Round eighteen"). What the sandbox also wrote, /etc/hosts, comes from
 * the agent's file. Null: as the mode says (no file, a cluster's network, another mode).
 */
export function loopbackOnly(input: Pick<KernelPlanInput, 'network' | 'agent'>): string | null {
  if (input.network !== null || input.agent.networkMode !== 'none') return null;
  return input.agent.loopbackHostsFile ?? null;
}

/**
 * The slots a main container's label says its session holds; `{}` when the label is missing
 * or is not a JSON object of numbers (a container not made by this version of bai).
 */
export function slotsFromLabel(labels: Record<string, string>): Slots {
  let parsed: unknown;
  try {
    parsed = JSON.parse(labels[LABEL.slots] ?? '{}');
  } catch {
    // Not JSON: the container holds nothing the ledger can count.
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  const slots: Slots = {};
  for (const [k, v] of Object.entries(parsed)) if (typeof v === 'number') slots[k] = v;
  return slots;
}

/** The batch timeout a main container was created with (its label), or null. */
export function batchTimeoutFromLabel(labels: Record<string, string>): number | null {
  const v = labels[LABEL.batchTimeout];
  return v ? Number(v) : null;
}
