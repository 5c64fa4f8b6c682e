import { fits, subtractSlots, type Slots } from './resources.js';

/** What the scheduler knows of an agent when placing. */
export interface AgentCapacity {
  id: string;
  total: Slots;
  occupied: Slots;
  /** What the agent runs (`x86_64`, `aarch64`…); absent: matches any request. */
  architecture?: string;
}

/** A session ready to run (every predicate but capacity passed), in dispatch order. */
export interface PlacementCandidate {
  sessionId: string;
  /** Slots for the whole session (all kernels: single-node clusters land on one agent). */
  need: Slots;
  /** The architecture the session asked for; null/absent: any agent. */
  architecture?: string | null;
}

export interface PlacementDecision {
  sessionId: string;
  agentId: string;
}

export function freeOf(agent: AgentCapacity): Slots {
  return subtractSlots(agent.total, agent.occupied);
}

/**
 * Places candidates in order (priority, then FIFO) with reservation and backfill: a candidate
 * that fits nowhere reserves the agent that will free up for it first (the one with the most of
 * its scarcest slot free); later candidates may only use other agents. So a large session is
 * never starved by a stream of small ones, and one that waits does not block the rest of the
 * scaling group. Best fit: among agents that can hold a candidate, the fullest one is chosen.
 */
export function placeSessions(
  candidates: PlacementCandidate[],
  agents: AgentCapacity[],
): PlacementDecision[] {
  return placementOf(candidates, agents).decisions;
}

/**
 * placeSessions, and whether a candidate after these could still be placed: not once every
 * agent is reserved (`open` is false), as each later one may only use an agent no earlier one
 * reserved. So candidates read a page at a time are placed as if all had been read whenever the
 * page leaves no agent open (the dispatcher reads the rest only otherwise).
 */
export function placementOf(
  candidates: PlacementCandidate[],
  agents: AgentCapacity[],
): { decisions: PlacementDecision[]; open: boolean; left: RoomLeft[] } {
  const free = new Map(agents.map((a) => [a.id, freeOf(a)]));
  const reserved = new Set<string>();
  const out: PlacementDecision[] = [];
  for (const c of candidates) {
    // Every agent reserved: no later candidate may use any (a page of them ends here).
    if (reserved.size === agents.length) break;
    const open = agents.filter((a) => !reserved.has(a.id) && runsArch(a, c.architecture));
    const fitting = open.filter((a) => fits(c.need, free.get(a.id) ?? {}));
    if (fitting.length > 0) {
      fitting.sort((a, b) => slack(c.need, free.get(a.id) ?? {}) - slack(c.need, free.get(b.id) ?? {}));
      const chosen = fitting[0]!;
      free.set(chosen.id, subtractSlots(free.get(chosen.id) ?? {}, c.need));
      out.push({ sessionId: c.sessionId, agentId: chosen.id });
      continue;
    }
    // Reserve the open agent that could ever hold it and is closest to holding it.
    const holders = open.filter((a) => fits(c.need, a.total));
    if (holders.length > 0) {
      holders.sort((a, b) => deficit(c.need, free.get(a.id) ?? {}) - deficit(c.need, free.get(b.id) ?? {}));
      reserved.add(holders[0]!.id);
    }
  }
  const left = agents
    .filter((a) => !reserved.has(a.id))
    .map((a) => ({ free: free.get(a.id) ?? {}, architecture: a.architecture }));
  return { decisions: out, open: left.length > 0, left };
}

/** An agent no candidate reserved, and the room the candidates placed left on it. */
export interface RoomLeft {
  free: Slots;
  architecture?: string;
}

/**
 * Whether a later candidate asking for `need` (all its kernels) on `architecture` could be
 * placed after those placementOf placed: only in the room they left on an agent none of them
 * reserved (later ones reserve and take more, never give back). When no later candidate can,
 * reading them places nothing.
 */
export function fitsLeft(
  need: Slots,
  architecture: string | null | undefined,
  left: readonly RoomLeft[],
): boolean {
  return left.some((a) => runsArch(a, architecture) && fits(need, a.free));
}

/** An agent runs what the session asks (no architecture asked, or the agent's own). */
export function runsArch(
  agent: Pick<AgentCapacity, 'architecture'>,
  arch: string | null | undefined,
): boolean {
  return !arch || agent.architecture === undefined || agent.architecture === arch;
}

/** Sum of normalised leftover after placing: smaller is a tighter (better) fit. */
function slack(need: Slots, free: Slots): number {
  let s = 0;
  for (const [k, v] of Object.entries(free)) {
    const total = Math.max(v, 1e-9);
    s += (v - (need[k] ?? 0)) / total;
  }
  return s;
}

/** How far an agent is from holding `need`, as a sum of normalised shortfalls. */
function deficit(need: Slots, free: Slots): number {
  let d = 0;
  for (const [k, v] of Object.entries(need)) {
    const have = free[k] ?? 0;
    if (v > have) d += (v - have) / Math.max(v, 1e-9);
  }
  return d;
}

/**
 * Why a request could never run in a scaling group: the first slot that no agent's total can
 * hold, with the largest amount any agent has. Null when some agent could hold it, or when the
 * group has no agent yet (the session then waits for one to join).
 */
export function neverFits(
  need: Slots,
  agents: AgentCapacity[],
): { slot: string; need: number; max: number } | null {
  if (agents.length === 0 || agents.some((a) => fits(need, a.total))) return null;
  for (const [slot, v] of Object.entries(need)) {
    const max = Math.max(...agents.map((a) => a.total[slot] ?? 0));
    if (v > max + 1e-9) return { slot, need: v, max };
  }
  // Each slot fits on some agent, but no single agent has all of them.
  const first = Object.entries(need).find(([, v]) => v > 0);
  return { slot: first?.[0] ?? 'cpu', need: first?.[1] ?? 0, max: 0 };
}
