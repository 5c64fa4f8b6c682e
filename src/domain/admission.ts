import { InvalidImageLabel, InvalidRequest, ObjectNotFound, QuotaExceeded } from './errors.js';
import { neverFits, runsArch, type AgentCapacity } from './placement.js';
import { formatSlot, parseBytes, parseSlots, scaleSlots, type Slots } from './resources.js';

/**
 * Admission: what a create request may ask, given the image it runs and the keypair's policy.
 * Every function is pure and throws the typed error the API answers with; the service looks up
 * the image, the policy and the agents, then asks here.
 */

/** Slots a session gets for what it does not ask: one core and 256 MiB. */
export const DEFAULT_SLOTS: Readonly<{ cpu: number; mem: number }> = { cpu: 1, mem: 256 * 1024 * 1024 };
/** The least memory a container may have (Docker refuses less than 6 MiB). */
const MIN_MEM_BYTES = 6 * 1024 * 1024;
/**
 * Resource options a request may set (beyond slots): `shmem`, and Backend.AI's
 * `allow_fractional_resource_fragmentation` (a boolean; bai never splits a device, so either
 * value holds).
 */
const RESOURCE_OPTIONS = ['shmem', 'allow_fractional_resource_fragmentation'] as const;

const LABEL_PREFIX = 'ai.backend.resource.';

/** What admission reads of a keypair's resource policy. */
interface AdmissionPolicy {
  max_priority: number;
  max_pending_session_count: number | null;
  total_resource_slots: Slots;
}

/** A request's domain must be its keypair's, unless a superadmin submits it. */
export function checkDomain(requested: string, ownerDomain: string, isSuperadmin: boolean): void {
  if (requested !== ownerDomain && !isSuperadmin)
    throw new InvalidRequest(`The keypair belongs to domain "${ownerDomain}", not "${requested}".`);
}

/** The scaling group a session runs in, which must exist. */
export function checkScalingGroup(name: string, exists: boolean): void {
  if (!exists) throw new InvalidRequest(`Unknown scaling group "${name}".`);
}

/** Who may use a scaling group: the domains and keypairs it lists (both empty: everyone). */
export interface ScalingGroupAccess {
  domains: string[];
  keypairs: string[];
}

/**
 * A scaling group that lists domains or keypairs is open only to those (a keypair listed, or
 * any keypair of a listed domain); one that lists none is open to all. Superadmins use any.
 * Refused as Backend.AI does, a 404 `object-not-found` naming the scaling group.
 */
export function checkScalingGroupAccess(
  name: string,
  access: ScalingGroupAccess,
  owner: { accessKey: string; domain: string; role: string },
): void {
  if (owner.role === 'superadmin') return;
  if (access.domains.length === 0 && access.keypairs.length === 0) return;
  if (access.domains.includes(owner.domain) || access.keypairs.includes(owner.accessKey)) return;
  throw new ObjectNotFound(
    `The scaling group "${name}" is not open to this keypair or its domain.`,
    'scaling group',
  );
}

/** The group every keypair of a domain belongs to without being listed. */
export const DEFAULT_GROUP = 'default';

/**
 * A session goes into a group of its owner's domain: `default` for every keypair, another only
 * for its members; admins use any group of their domain, superadmins any group (Backend.AI's
 * rule; a 400 "Invalid group" otherwise).
 */
export function checkGroupMembership(
  group: string,
  owner: { role: string; memberOf: readonly string[] },
): void {
  if (owner.role === 'superadmin' || owner.role === 'admin') return;
  if (group === DEFAULT_GROUP || owner.memberOf.includes(group)) return;
  throw new InvalidRequest(`Invalid group "${group}": the keypair is not a member of it.`, {
    data: { field: 'group', group },
  });
}

/**
 * An architecture no agent of the scaling group runs is refused at once (a group without
 * agents yet lets the session wait for one); null asks for none in particular.
 */
export function checkArchitecture<A extends Pick<AgentCapacity, 'architecture'>>(
  scalingGroup: string,
  architecture: string | null,
  agents: A[],
): A[] {
  const running = agents.filter((a) => runsArch(a, architecture));
  if (agents.length === 0 || running.length > 0) return running;
  const have = [...new Set(agents.map((a) => a.architecture))].sort().join(', ');
  throw new InvalidRequest(
    `No agent of scaling group "${scalingGroup}" runs architecture "${architecture}" (they run ${have}).`,
    { data: { field: 'architecture', architecture } },
  );
}

/** The bootstrap script a session runs: the request's, else its keypair's (Backend.AI's rule). */
export function bootstrapScriptFor(requested: string | null, keypairs: string | null): string | null {
  return requested !== null && requested !== '' ? requested : keypairs && keypairs !== '' ? keypairs : null;
}

/**
 * The image's `ai.backend.resource.<kind>.<slot>` labels as slots. Any slot name is taken (an
 * image may need a device no agent has yet); a value that is not a size or count is an
 * InvalidImageLabel naming the label.
 */
export function labelSlots(image: string, labels: Record<string, string>, kind: 'min' | 'max'): Slots {
  const prefix = `${LABEL_PREFIX}${kind}.`;
  const out: Slots = {};
  for (const [label, value] of Object.entries(labels)) {
    if (!label.startsWith(prefix)) continue;
    const slot = label.slice(prefix.length);
    try {
      Object.assign(out, parseSlots({ [slot]: value }, new Set([slot]), prefix.slice(0, -1)));
    } catch (err) {
      // The one expected failure: a value that is not a size or count (its message names the label).
      if (err instanceof InvalidRequest) throw new InvalidImageLabel(image, label, value, err.message);
      throw err;
    }
  }
  return out;
}

/**
 * The slots a session gets: the defaults, raised to the image's minimum, then what the request
 * asks. Refused when the request asks for an unknown slot, below the image's minimum, above its
 * maximum, no cpu or less than 6 MiB of memory.
 */
export function slotsFor(
  resources: Record<string, unknown>,
  image: { name: string; labels: Record<string, string> },
  known: ReadonlySet<string>,
): Slots {
  const asked = parseSlots(resources, known);
  const min = labelSlots(image.name, image.labels, 'min');
  const max = labelSlots(image.name, image.labels, 'max');
  const slots: Slots = { ...DEFAULT_SLOTS };
  for (const [k, v] of Object.entries(min)) slots[k] = Math.max(slots[k] ?? 0, v);
  Object.assign(slots, asked);
  for (const [k, v] of Object.entries(min)) {
    if ((slots[k] ?? 0) < v)
      throw new InvalidRequest(
        `The image needs at least ${formatSlot(k, v)} ${k}; asked ${formatSlot(k, slots[k] ?? 0)}.`,
      );
  }
  for (const [k, v] of Object.entries(max)) {
    if ((slots[k] ?? 0) > v)
      throw new InvalidRequest(
        `The image allows at most ${formatSlot(k, v)} ${k}; asked ${formatSlot(k, slots[k] ?? 0)}.`,
      );
  }
  if ((slots.cpu ?? 0) <= 0 || (slots.mem ?? 0) < MIN_MEM_BYTES) {
    throw new InvalidRequest('resources need cpu > 0 and mem of at least 6m.');
  }
  return slots;
}

/** `resource_opts`: only shmem, a size smaller than the session's memory. */
export function resourceOptsFor(resourceOpts: Record<string, unknown>, slots: Slots): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(resourceOpts)) {
    if (v === null || v === undefined) continue;
    if (k === 'allow_fractional_resource_fragmentation') {
      if (typeof v !== 'boolean') throw new InvalidRequest(`resource_opts.${k} must be true or false.`);
      continue;
    }
    if (k !== 'shmem')
      throw new InvalidRequest(
        `resource_opts.${k} is not supported; known: ${RESOURCE_OPTIONS.join(', ')}.`,
        { data: { field: `resource_opts.${k}` } },
      );
    out.shmem = parseBytes(v, 'resource_opts.shmem');
  }
  if (out.shmem !== undefined && out.shmem >= (slots.mem ?? 0)) {
    throw new InvalidRequest('resource_opts.shmem must be smaller than mem.');
  }
  return out;
}

/** The policy's ceilings: priority, and each slot of the whole session (every kernel). */
export function checkPolicy(
  policy: AdmissionPolicy,
  ask: { priority: number; slots: Slots; clusterSize: number },
): void {
  if (ask.priority > policy.max_priority) {
    throw new InvalidRequest(
      `priority ${ask.priority} is above this keypair's maximum of ${policy.max_priority}.`,
    );
  }
  for (const [k, v] of Object.entries(policy.total_resource_slots)) {
    const asked = (ask.slots[k] ?? 0) * ask.clusterSize;
    if (asked > v)
      throw new QuotaExceeded(
        `The session asks ${formatSlot(k, asked)} ${k}; the policy allows ${formatSlot(k, v)}.`,
      );
  }
}

/**
 * A session no agent of its scaling group could ever hold is refused at once rather than left
 * PENDING forever (a group without agents yet lets it wait for one).
 */
export function checkCapacity(
  scalingGroup: string,
  slots: Slots,
  clusterSize: number,
  agents: Pick<AgentCapacity, 'id' | 'total'>[],
): void {
  const never = neverFits(
    scaleSlots(slots, clusterSize),
    agents.map((a) => ({ ...a, occupied: {} })),
  );
  if (never) {
    throw new InvalidRequest(
      `No agent of scaling group "${scalingGroup}" could ever hold this session: it asks ${formatSlot(never.slot, never.need)} ${never.slot}` +
        `, and the largest agent has ${formatSlot(never.slot, never.max)}.`,
      { data: { slot: never.slot, requested: never.need, available: never.max } },
    );
  }
}

/** The slot names a request may use: cpu, mem and every slot the group's agents declare. */
export function knownSlots(agents: { total: Slots }[]): Set<string> {
  return new Set(['cpu', 'mem', ...agents.flatMap((a) => Object.keys(a.total))]);
}

/** A keypair at its pending-session limit (null: none) may not queue another. */
export function checkPendingLimit(
  policy: Pick<AdmissionPolicy, 'max_pending_session_count'>,
  pending: number,
): void {
  const max = policy.max_pending_session_count;
  if (max !== null && pending >= max)
    throw new QuotaExceeded(`This keypair already has ${max} pending sessions, its limit.`);
}

/** Every mounted folder name must be on the domain's allow-list (`*`: any name). */
export function checkStorageAllowed(names: string[], allowed: readonly string[], domain: string): void {
  if (allowed.includes('*')) return;
  for (const name of names)
    if (!allowed.includes(name))
      throw new InvalidRequest(`The storage folder "${name}" is not allowed in domain "${domain}".`);
}

/** A dependency that is not a session of the submitting keypair. */
export function unknownDependency(ref: string): InvalidRequest {
  return new InvalidRequest(`Dependency "${ref}" is not a session of this keypair.`);
}

/** The kernels of a cluster: the first is `main1`, the others `sub1`… with their indexes. */
export function clusterLayout(
  clusterSize: number,
): { cluster_role: 'main' | 'sub'; cluster_idx: number; cluster_hostname: string }[] {
  return Array.from({ length: clusterSize }, (_, i) => ({
    cluster_role: i === 0 ? 'main' : 'sub',
    cluster_idx: i === 0 ? 1 : i,
    cluster_hostname: i === 0 ? 'main1' : `sub${i}`,
  }));
}
