import { PREPARE_STATUSES, predecessorsOf, type SessionStatus } from './status.js';

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
