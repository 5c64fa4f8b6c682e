import { InvalidRequest } from './errors.js';
import { parseTimeoutSeconds } from './starts-at.js';
import type { SessionStatus } from './status.js';

/**
 * Start deadline (Kubernetes' `startingDeadlineSeconds`): a session that is not placed on an
 * agent within `startDeadline` seconds of its `starts_at` (of its creation when it has none)
 * ends CANCELLED `start-deadline-exceeded` instead of running late.
 *
 * "Started" means placed: the dispatcher moved it PENDING → SCHEDULED, committing an agent's
 * resources to it. From then on it is starting (image pull, create and start are bounded by
 * the phase timeout, not by this deadline), and an attempt after a retry is not subject to it
 * either: only the first attempt, still PENDING, is. The dispatcher applies the rule set-based
 * in SQL before placement (src/persistence/start-deadline-sql.ts renders this file's constants),
 * so a session past its deadline is never placed.
 */
export const START_DEADLINE_EXCEEDED = 'start-deadline-exceeded';
/** The only status and attempt the deadline applies to. */
export const START_DEADLINE_APPLIES = { status: 'PENDING', attempt: 1 } as const;
export const MAX_START_DEADLINE_SECONDS = 365 * 86400;

/**
 * `startDeadline` of a create body: seconds (a number or numeric text) or N(s|m|h|d|w), at
 * least 1 s, a fraction rounded up to whole seconds. Null when absent.
 */
export function parseStartDeadline(v: unknown): number | null {
  if (v === undefined) return null;
  const secs = Math.ceil(parseTimeoutSeconds(v, 'start_deadline'));
  if (secs > MAX_START_DEADLINE_SECONDS)
    throw new InvalidRequest(
      `start_deadline must be at most ${MAX_START_DEADLINE_SECONDS} seconds (365 days).`,
    );
  return secs;
}

export interface DeadlineFacts {
  status: SessionStatus;
  attempt: number;
  startsAt: Date | null;
  createdAt: Date;
  startDeadlineSeconds: number | null;
}

/** The instant by which the session must be placed (null: no deadline). */
export function startDeadlineAt(s: DeadlineFacts): Date | null {
  if (s.startDeadlineSeconds === null) return null;
  return new Date((s.startsAt ?? s.createdAt).getTime() + s.startDeadlineSeconds * 1000);
}

/** Whether the session is to be cancelled `start-deadline-exceeded` at `now`. */
export function startDeadlinePassed(s: DeadlineFacts, now: Date): boolean {
  const at = startDeadlineAt(s);
  return (
    at !== null &&
    s.status === START_DEADLINE_APPLIES.status &&
    s.attempt === START_DEADLINE_APPLIES.attempt &&
    at.getTime() <= now.getTime()
  );
}

/** status_data of a session cancelled for its start deadline. */
export function startDeadlineExceeded(
  seconds: number,
  deadline: Date,
): { startDeadline: { seconds: number; deadline: string } } {
  return { startDeadline: { seconds, deadline: deadline.toISOString() } };
}
