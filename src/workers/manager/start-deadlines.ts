import { START_DEADLINE_EXCEEDED, startDeadlineExceeded } from '../../domain/start-deadline.js';
import type { GroupSurvey } from '../../persistence/scheduler-store.js';
import type { SessionStore } from '../../persistence/session-store.js';

/**
 * The dispatcher's start-deadline step, run before placement: every PENDING first attempt of
 * the group whose deadline had passed when the pass's survey read it (`expired`, at most
 * `limit`) ends CANCELLED `start-deadline-exceeded` (guarded from PENDING, with its events, so
 * a session placed meanwhile by another manager is left alone). Returns whether it cancelled
 * any, and whether there may be more than `limit`.
 */
export async function cancelPastStartDeadlines(
  deps: { sessions: SessionStore },
  expired: GroupSurvey['expired'],
  limit: number,
): Promise<{ cancelled: boolean; more: boolean }> {
  let cancelled = false;
  for (const s of expired) {
    const row = await deps.sessions.transition(s.id, 'CANCELLED', {
      from: ['PENDING'],
      info: START_DEADLINE_EXCEEDED,
      data: startDeadlineExceeded(s.seconds, s.deadline),
      result: 'FAILURE',
      kernels: true,
    });
    cancelled ||= row !== null;
  }
  return { cancelled, more: expired.length === limit };
}
