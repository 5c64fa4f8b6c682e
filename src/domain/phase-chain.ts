import { PREPARE_STATUSES, predecessorsOf, SESSION_STATUSES, type SessionStatus } from './status.js';

/** One phase of a progress report: the status entered, when, and figures merged into status_data. */
export interface PhaseStep {
  status: SessionStatus;
  at: number;
  data: Record<string, unknown>;
}

/** What a progress report's phases do to a session whose row is locked in `from`. */
export interface SessionChain {
  /** The phases that move it, in order (each from a preparation status the next may follow). */
  moved: PhaseStep[];
  /** status_data merged by the moves and by PULLING progress while it was PULLING, in order. */
  data: Record<string, unknown>;
  /** Whether anything is written at all (a move, or only PULLING figures). */
  writes: boolean;
}

/**
 * Applies the phases one after the other as the guarded moves would (each from a preparation
 * status that may precede it; a phase that cannot move is skipped, and PULLING progress while
 * the session is PULLING only merges its figures), on a row whose status is known because it
 * is locked: the moves can then be written as one UPDATE.
 */
export function sessionChain(from: SessionStatus, steps: readonly PhaseStep[]): SessionChain {
  let cur = from;
  const moved: PhaseStep[] = [];
  let data: Record<string, unknown> = {};
  let writes = false;
  for (const step of steps) {
    const allowed = PREPARE_STATUSES.filter((s) => predecessorsOf(step.status).includes(s));
    if (allowed.includes(cur)) {
      moved.push(step);
      data = { ...data, ...step.data };
      cur = step.status;
      writes = true;
    } else if (step.status === 'PULLING' && cur === 'PULLING' && Object.keys(step.data).length > 0) {
      data = { ...data, ...step.data };
      writes = true;
    }
  }
  return { moved, data, writes };
}

/**
 * Which of the session's moves each kernel status follows: a kernel moves along with a move of
 * its session when its own status may precede the new one. Keyed by the kernel's status before;
 * statuses that follow no move are left out.
 */
export function kernelChains(moved: readonly PhaseStep[]): Map<SessionStatus, PhaseStep[]> {
  const out = new Map<SessionStatus, PhaseStep[]>();
  const all = new Set<SessionStatus>(moved.flatMap((m) => predecessorsOf(m.status)));
  for (const from of all) {
    let cur = from;
    const chain: PhaseStep[] = [];
    for (const step of moved) {
      if (predecessorsOf(step.status).includes(cur)) {
        chain.push(step);
        cur = step.status;
      }
    }
    if (chain.length > 0) out.set(from, chain);
  }
  return out;
}

/**
 * The statuses a session may be in for the phases to move it the same way whichever it is:
 * every preparation status before the first phase, when from each of them every phase moves
 * it (phases in order, none repeated). Then the moves do not depend on the row, and can be
 * written without reading it first; null otherwise (the caller reads the locked row).
 */
export function chainFromAny(
  steps: readonly PhaseStep[],
): { from: SessionStatus[]; chain: SessionChain } | null {
  const first = steps[0];
  if (!first) return null;
  const order = (x: SessionStatus) => SESSION_STATUSES.indexOf(x);
  const from = PREPARE_STATUSES.filter((f) => order(f) < order(first.status));
  if (from.length === 0) return null;
  const chains = from.map((f) => sessionChain(f, steps));
  if (!chains.every((c) => c.moved.length === steps.length)) return null;
  return { from, chain: chains[0]! };
}
