import { isoInZone, nextInstants } from '../domain/schedule-cron.js';
import type { ScheduleSpec } from '../domain/schedule-spec.js';
import type { ScheduleRow, ScheduleRunView } from '../persistence/schedule-store.js';
import { cronSpecOf } from './schedule-firing.js';

/** A run in a schedule's view (`lastRun`, `runs`). */
export function runView(r: ScheduleRunView) {
  return {
    scheduledFor: r.scheduled_for.toISOString(),
    outcome: r.outcome,
    sessionId: r.session_id,
    status: r.status,
    result: r.result,
    exitCode: r.exit_code,
    error: r.error,
  };
}

/** A schedule as the API shows it (docs/api.md, "Schedules"). */
export function scheduleView(s: ScheduleRow, lastRun: ScheduleRunView | undefined) {
  return {
    id: s.id,
    name: s.name,
    ownerAccessKey: s.access_key,
    domain: s.domain_name,
    cron: s.cron,
    timezone: s.timezone,
    concurrencyPolicy: s.concurrency_policy,
    startingDeadlineSeconds: s.starting_deadline_seconds,
    suspend: s.suspend,
    successfulHistoryLimit: s.successful_history_limit,
    failedHistoryLimit: s.failed_history_limit,
    session: s.session_body,
    template: s.template,
    nextRunAt: s.next_run_at?.toISOString() ?? null,
    lastRun: lastRun ? runView(lastRun) : null,
    createdAt: s.created_at.toISOString(),
    updatedAt: s.updated_at.toISOString(),
  };
}

/** The next five instants after `now` in the schedule's zone, with its offset (none when suspended). */
export function nextInstantsView(s: ScheduleRow, now: Date): string[] {
  if (s.suspend) return [];
  return nextInstants(cronSpecOf(s), now, 5).map((t) => isoInZone(t, s.timezone));
}

/** The spec a PATCH starts from. */
export function specOf(s: ScheduleRow): ScheduleSpec {
  return {
    name: s.name,
    cron: s.cron,
    timezone: s.timezone,
    session: s.session_body,
    template: s.template,
    concurrencyPolicy: s.concurrency_policy,
    startingDeadlineSeconds: s.starting_deadline_seconds,
    suspend: s.suspend,
    successfulHistoryLimit: s.successful_history_limit,
    failedHistoryLimit: s.failed_history_limit,
  };
}
