import type { PlacedKernel, PlacedSession, SessionRow } from '../../persistence/rows.js';
import type { CatalogStore, ResolvedImage } from '../../persistence/catalog-store.js';
import type { Logger } from '../../log/logger.js';
import type { RunSessionJob } from '../../queue/payloads.js';

/** What an agent needs to run a session, built from its rows. */
export function runJobOf(
  session: PlacedSession,
  kernels: PlacedKernel[],
  image: ResolvedImage | null,
): RunSessionJob {
  return {
    sessionId: session.id,
    sessionName: session.name,
    accessKey: session.access_key,
    clusterMode: session.cluster_mode,
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
    requestId: session.request_id ?? null,
  };
}

/**
 * The image of a session about to be (re)sent to its agent, with its registry credentials.
 * An image removed from the catalog (or its registry disallowed) since the session was
 * submitted is logged and the job goes without credentials: the agent pulls the reference as
 * written (or finds it cached), and a pull that fails is reported as such.
 */
export async function imageForRun(
  catalog: Pick<CatalogStore, 'resolveImage'>,
  session: Pick<SessionRow, 'id' | 'image' | 'domain_name'>,
  log: Logger,
): Promise<ResolvedImage | null> {
  try {
    return await catalog.resolveImage(session.image, session.domain_name);
  } catch (err) {
    log.error('image not resolved for a run job; sent without registry credentials', {
      sessionId: session.id,
      image: session.image,
      err: String(err),
    });
    return null;
  }
}
