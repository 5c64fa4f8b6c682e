import { ScheduleNotFound } from '../domain/errors.js';
import { nextInstant } from '../domain/schedule-cron.js';
import { parseSchedulePatch, type ScheduleSpec } from '../domain/schedule-spec.js';
import type { ScheduleRow } from '../persistence/schedule-store.js';
import type { ApiContext } from './api-context.js';
import type { Principal } from './auth.js';
import { specOf } from './schedule-view.js';

/** The next instant of `spec` after `now`; null when suspended or none is left. */
export function firstInstant(spec: ScheduleSpec, now: Date): Date | null {
  return spec.suspend ? null : nextInstant(spec, now);
}

/**
 * PATCH /schedules/{name} (and the console's suspend/resume): the body over the schedule's spec,
 * a new template checked as the owner's, written; a new plan (cron, zone) or a suspend/resume
 * re-plans from now (instants of the old plan or of the suspension are not run late) and wakes
 * the ticker.
 */
export async function patchSchedule(
  api: ApiContext,
  s: ScheduleRow,
  body: unknown,
  principal: Principal,
): Promise<ScheduleRow> {
  const now = new Date();
  const spec = parseSchedulePatch(specOf(s), body, now);
  if (spec.template && JSON.stringify(spec.template) !== JSON.stringify(s.template)) {
    const owner = await api.service.ownerKeypair(principal, s.access_key);
    await api.scheduleFiring.createBody({ session_body: null, template: spec.template }, owner);
  }
  const replan = spec.cron !== s.cron || spec.timezone !== s.timezone || spec.suspend !== s.suspend;
  const row = await api.schedules.update(s.id, spec, replan ? firstInstant(spec, now) : undefined);
  if (!row) throw new ScheduleNotFound(s.name);
  if (replan) api.schedulesChanged(row.next_run_at);
  return row;
}
