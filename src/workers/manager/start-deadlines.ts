import { START_DEADLINE_EXCEEDED, startDeadlineExceeded } from '../../domain/start-deadline.js';
import type { SchedulerStore } from '../../persistence/scheduler-store.js';
import type { SessionStore } from '../../persistence/session-store.js';

/**
 * The dispatcher's start-deadline step, run before placement: every PENDING first attempt of
 * the group whose deadline has passed at `now` ends CANCELLED `start-deadline-exceeded`
 * (guarded from PENDING, with its events, so a session placed meanwhile by another manager is
 * left alone). Returns whether it cancelled any, whether there may be more than `limit`, and
 * the epoch ms of the next deadline to come (Infinity: none), for the wake-up timer.
 */
export async function cancelPastStartDeadlines(
  deps: { scheduler: SchedulerStore; sessions: SessionStore },
  group: string,
  now: Date,
  limit: number,
): Promise<{ cancelled: boolean; more: boolean; next: number }> {
  const { expired, next } = await deps.scheduler.startDeadlines(group, now, limit);
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
  return { cancelled, more: expired.length === limit, next: next ? next.getTime() : Infinity };
}
