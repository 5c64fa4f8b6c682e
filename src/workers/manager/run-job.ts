import type { KernelRow, SessionRow } from '../../persistence/rows.js';
import type { ResolvedImage } from '../../persistence/catalog-store.js';
import type { RunSessionJob } from '../../queue/payloads.js';

/** What an agent needs to run a session, built from its rows. */
export function runJobOf(
  session: SessionRow,
  kernels: KernelRow[],
  image: ResolvedImage | null,
): RunSessionJob {
  return {
    sessionId: session.id,
    sessionName: session.name,
    accessKey: session.access_key,
    attempt: session.attempt,
    image: session.image,
    registryAuth: image?.auth ?? null,
    startupCommand: session.startup_command,
    bootstrapScript: session.bootstrap_script,
    environ: session.environ,
    mounts: session.mounts,
    resourceOpts: session.resource_opts,
    kernels: kernels.map((k) => ({
      kernelId: k.id,
      clusterRole: k.cluster_role,
      clusterIdx: k.cluster_idx,
      hostname: k.cluster_hostname,
      slots: k.occupied_slots,
    })),
    startsAt: session.starts_at ? session.starts_at.getTime() : null,
    batchTimeoutSec: session.batch_timeout_sec,
  };
}
