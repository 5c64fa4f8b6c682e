import { fitsLeft, type RoomLeft } from '../../domain/placement.js';
import { scaleSlots } from '../../domain/resources.js';
import type { PendingNeed } from '../../persistence/scheduler-store.js';

/** The most distinct requests a pass weighs before it reads the whole queue (more: it reads). */
export const MAX_NEEDS = 64;

/**
 * Whether reading the rest of a group's queue, after a page of `read` sessions whose placement
 * (placementOf) left an agent open, can place anything. When every session of the page was placed, those after it may well fit:
 * yes. Otherwise the page left some waiting, and the rest is read only if one of the distinct
 * requests among the group's PENDING sessions (`needs`: one read of its queue, without the
 * ranking the whole read does) fits the room left on an agent the page did not reserve. A
 * backlog that fits nowhere (asking for a slot no agent has, or more than any has free) was
 * read whole and ranked on every pass that freed a slot, and on every safety tick while it
 * waited (docs/benchmarks.md, round twenty-three).
 */
export async function deeperMayPlace(
  placement: { decisions: readonly unknown[]; left: readonly RoomLeft[] },
  read: number,
  needs: () => Promise<PendingNeed[] | null>,
): Promise<boolean> {
  if (placement.decisions.length >= read) return true;
  const list = await needs();
  return (
    list === null ||
    list.some((n) => fitsLeft(scaleSlots(n.requested_slots, n.cluster_size), n.architecture, placement.left))
  );
}
