import { randomUUID } from 'node:crypto';
import { bootstrapScriptFor, clusterLayout } from '../domain/admission.js';
import type { ResolvedDependency } from '../domain/dependency-condition.js';
import type { Slots } from '../domain/resources.js';
import type { CreateSessionRequest } from '../domain/session-request.js';
import type { ResolvedImage } from '../persistence/catalog-store.js';
import type { KernelRow, KeypairRow, MountSpec, ResourcePolicyRow, SessionRow } from '../persistence/rows.js';

/** What the admission checks of a create request found (SessionService.admit). */
export interface Admitted {
  policy: ResourcePolicyRow;
  name: string;
  dependencies: ResolvedDependency[];
  image: ResolvedImage;
  scalingGroup: string;
  slots: Slots;
  resourceOpts: Record<string, number>;
  mounts: MountSpec[];
}

/** A schedule's session, admitted, ready to insert in the firing transaction. */
export interface ScheduledRows {
  session: Partial<SessionRow>;
  kernels: Partial<KernelRow>[];
  dependencies: ResolvedDependency[];
}

/** The PENDING rows of an admitted create request: its session and one kernel per cluster member. */
export function sessionRowsOf(
  req: CreateSessionRequest,
  owner: KeypairRow,
  a: Admitted,
  received: Date,
  /** The id of the HTTP request that creates it, if one does (kept on the session). */
  requestId: string | null,
): { session: Partial<SessionRow>; kernels: Partial<KernelRow>[] } {
  const id = randomUUID();
  const now = received.toISOString();
  const session: Partial<SessionRow> = {
    id,
    created_at: received,
    name: a.name,
    access_key: owner.access_key,
    domain_name: owner.domain_name,
    group_name: req.group,
    scaling_group: a.scalingGroup,
    type: req.type,
    status: 'PENDING',
    status_history: { PENDING: now },
    image: a.image.canonical,
    requested_image: req.image,
    startup_command: req.startupCommand,
    bootstrap_script: bootstrapScriptFor(req.bootstrapScript, owner.bootstrap_script ?? null),
    architecture: req.architecture,
    environ: req.environ,
    mounts: a.mounts,
    requested_slots: a.slots,
    resource_opts: a.resourceOpts,
    cluster_size: req.clusterSize,
    cluster_mode: req.clusterMode,
    starts_at: req.startsAt,
    batch_timeout_sec: req.batchTimeoutSeconds,
    start_deadline_seconds: req.startDeadlineSeconds,
    callback_url: req.callbackUrl,
    priority: req.priority,
    tag: req.tag,
    retry_policy: req.retry,
    request_id: requestId,
  };
  const kernels: Partial<KernelRow>[] = clusterLayout(req.clusterSize).map((k) => ({
    id: randomUUID(),
    session_id: id,
    ...k,
    status: 'PENDING',
    status_history: { PENDING: now },
    occupied_slots: {},
  }));
  return { session, kernels };
}
