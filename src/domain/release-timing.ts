/**
 * When a start barrier is released (src/domain/start-barrier.ts), in a thread of its own (the
 * agent's release clock) so that the agent's main event loop, busy with Docker calls, JSON and
 * reports, cannot make it late. The main loop does what needs Redis ahead of the instant (is
 * the attempt superseded?) and hands the clock a permit; the clock sleeps until the instant and
 * writes the FIFOs itself. Pure: the clock and the tests drive it with their own times.
 */

/** The main loop checks the attempt (one Redis SISMEMBER) this long before the instant. */
export const PERMIT_LEAD_MS = 1_000;
/**
 * A permit (the attempt was not superseded when asked) holds this long after it was asked.
 * The manager supersedes an attempt only after its agent was silent for the agent timeout
 * plus the grace window (20 s + 3 min by default): an answer this fresh is as good as one
 * read at the instant. A stale one (the agent was frozen or cut off across the instant) is
 * never used; the main loop asks again and releases late, as the timer did.
 */
export const PERMIT_TTL_MS = 2_500;
/**
 * The clock sleeps until this long before the instant, then spins on the clock (a thread woken
 * from its wait on a loaded machine is late by a few ms however long it spins).
 */
export const SPIN_MS = 2;

/** One release the clock holds. `at`: epoch ms, never released before it by the clock's `now`. */
export interface ArmedRelease {
  at: number;
  /** When the main loop asked whether the attempt was superseded (and it was not); null: not yet. */
  permittedAt: number | null;
}

/** Whether a permit asked at `permittedAt` may release at `now`. */
export function permitValid(permittedAt: number | null, now: number, ttlMs = PERMIT_TTL_MS): boolean {
  return permittedAt !== null && now >= permittedAt && now - permittedAt <= ttlMs;
}

/** Whether a release is due at `now`: its instant came and its permit is fresh. */
export function due(r: ArmedRelease, now: number, ttlMs = PERMIT_TTL_MS): boolean {
  return now >= r.at && permitValid(r.permittedAt, now, ttlMs);
}

/**
 * What the clock does next at `now` with these releases armed: `fire` (at least one is due),
 * `spin` (one is due within SPIN_MS), or `wait` up to `ms` (null: until a message arrives; only
 * releases with a permit count, since one without waits for the main loop's message).
 */
export function nextStep(
  armed: readonly ArmedRelease[],
  now: number,
  ttlMs = PERMIT_TTL_MS,
  spinMs = SPIN_MS,
): { kind: 'fire' } | { kind: 'spin' } | { kind: 'wait'; ms: number | null } {
  let soonest: number | null = null;
  for (const r of armed) {
    if (!permitValid(r.permittedAt, Math.max(now, r.at), ttlMs)) continue; // stale by its instant
    if (due(r, now, ttlMs)) return { kind: 'fire' };
    soonest = soonest === null ? r.at : Math.min(soonest, r.at);
  }
  if (soonest === null) return { kind: 'wait', ms: null };
  const left = soonest - now;
  return left <= spinMs ? { kind: 'spin' } : { kind: 'wait', ms: left - spinMs };
}

/** When the main loop asks for a permit: PERMIT_LEAD_MS before the instant, at once if that passed. */
export function permitDelay(at: number, now: number, leadMs = PERMIT_LEAD_MS): number {
  return Math.max(0, at - leadMs - now);
}
