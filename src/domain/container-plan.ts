import { InvalidRequest } from './errors.js';

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

/** Backend.AI-style environment of a kernel. */
export function kernelEnvironment(input: {
  sessionId: string;
  kernelId: string;
  role: 'main' | 'sub';
  idx: number;
  hostname: string;
  clusterSize: number;
  hosts: string[];
  user: Record<string, string>;
}): Record<string, string> {
  return {
    ...input.user,
    BACKENDAI_SESSION_ID: input.sessionId,
    BACKENDAI_KERNEL_ID: input.kernelId,
    BACKENDAI_CLUSTER_ROLE: input.role,
    BACKENDAI_CLUSTER_IDX: String(input.idx),
    BACKENDAI_CLUSTER_HOST: input.hostname,
    BACKENDAI_CLUSTER_HOSTS: input.hosts.join(','),
    BACKENDAI_CLUSTER_SIZE: String(input.clusterSize),
    BACKENDAI_CLUSTER_MODE: 'single-node',
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
export function kernelCommand(
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
