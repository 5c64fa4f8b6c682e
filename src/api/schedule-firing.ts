import { isUuid } from '../domain/body-fields.js';
import { BaiError, InvalidSchedule, ObjectNotFound } from '../domain/errors.js';
import type { CronSpec } from '../domain/schedule-cron.js';
import { historyToPrune, planDue, type HistoryEntry } from '../domain/schedule-policy.js';
import { mergeCreateOverrides, templateToCreateBody } from '../domain/session-template.js';
import { LIVE_STATUSES } from '../domain/status.js';
import type { Logger } from '../log/logger.js';
import type { ManagerMetrics } from '../metrics/manager-metrics.js';
import type { CatalogStore } from '../persistence/catalog-store.js';
import type { KeypairRow, SessionRow } from '../persistence/rows.js';
import type { FireDecision, ScheduleRow, ScheduleStore } from '../persistence/schedule-store.js';
import type { SessionStore } from '../persistence/session-store.js';
import type { TemplateStore } from '../persistence/template-store.js';
import { mayManageKeypair } from './access.js';
import type { SessionService } from './session-service.js';
import type { ScheduledRows } from './session-rows.js';

export interface ScheduleFiringDeps {
  schedules: ScheduleStore;
  sessions: SessionStore;
  service: Pick<SessionService, 'prepareScheduled' | 'destroy'>;
  catalog: Pick<CatalogStore, 'keypair'>;
  templates: Pick<TemplateStore, 'get' | 'list'>;
  log: Logger;
  metrics?: ManagerMetrics;
  /** Asks the dispatcher for a pass (a session was created). */
  kickDispatcher: () => void;
}

/** A schedule's session name: `<schedule>-<unix seconds of the instant>`. */
export function scheduledSessionName(schedule: string, at: Date): string {
  return `${schedule}-${Math.floor(at.getTime() / 1000)}`;
}

export function cronSpecOf(s: Pick<ScheduleRow, 'cron' | 'timezone'>): CronSpec {
  return { cron: s.cron, timezone: s.timezone };
}

/**
 * Firing schedules: the decision of src/domain/schedule-policy.ts for one due schedule, its
 * session admitted like a POST /session of the owner, and everything written by
 * ScheduleStore.fire in one transaction. Also the runs outside the plan (trigger) and the
 * pruning of history beyond the limits.
 */
export class ScheduleFiring {
  constructor(private readonly deps: ScheduleFiringDeps) {}

  /** Decides the due instants of `s`; false when nothing was written (not due, or another manager did). */
  async fireDue(s: ScheduleRow, now = new Date()): Promise<boolean> {
    const { schedules } = this.deps;
    if (s.next_run_at === null || s.suspend) return false;
    const live = s.concurrency_policy === 'Allow' ? [] : await schedules.liveRuns(s.id);
    const plan = planDue(cronSpecOf(s), {
      nextRunAt: s.next_run_at,
      now,
      startingDeadlineSeconds: s.starting_deadline_seconds,
      policy: s.concurrency_policy,
      liveRuns: live.length,
    });
    if (
      plan.fire === null &&
      plan.missed.length === 0 &&
      plan.nextRunAt?.getTime() === s.next_run_at.getTime()
    )
      return false;
    let run: FireDecision['run'] = null;
    const at = plan.fire;
    if (at && plan.action === 'skip') run = { at, outcome: 'skipped' };
    else if (at) {
      try {
        const rows = await this.rowsFor(s, at, new Date());
        run = { at, outcome: 'started', insert: (trx) => this.insertIn(trx, rows) };
      } catch (err) {
        // Refused like a POST /session would be (unknown image, quota…): recorded, not retried.
        if (!(err instanceof BaiError) || err.status >= 500) throw err;
        run = { at, outcome: 'failed', error: `${err.code}: ${err.message}` };
      }
    }
    const res = await schedules.fire({
      scheduleId: s.id,
      expectedNextRunAt: s.next_run_at,
      missed: plan.missed,
      run,
      nextRunAt: plan.nextRunAt,
    });
    if (!res) return false;
    this.afterCommit(res.session);
    // Replace: the live runs end once the new one is committed (a stale or refused decision
    // cancels nothing).
    if (at && res.session && plan.action === 'replace')
      await this.cancelRuns(
        s,
        live.filter((r) => (r.scheduled_for?.getTime() ?? 0) < at.getTime()),
        at,
      );
    this.deps.metrics?.countScheduleRuns('missed', plan.missed.length);
    if (run) this.deps.metrics?.countScheduleRuns(run.outcome);
    this.deps.log.info('schedule fired', {
      schedule: s.name,
      ownerAccessKey: s.access_key,
      instant: at?.toISOString() ?? null,
      outcome: run?.outcome ?? null,
      missed: plan.missed.length,
      sessionId: res.session?.id ?? null,
      error: run?.error,
    });
    await this.prune(s);
    return true;
  }

  /**
   * A run now, outside the plan (POST /schedules/{name}/trigger); admission errors go to the
   * caller. `requestId`: the request's, kept on the session.
   */
  async trigger(s: ScheduleRow, requestId: string | null = null): Promise<SessionRow> {
    const at = new Date();
    const rows = await this.rowsFor(s, at, at, requestId);
    const session = await this.deps.schedules.trigger(s.id, at, (trx) => this.insertIn(trx, rows));
    this.afterCommit(session);
    this.deps.metrics?.countScheduleRuns('triggered');
    this.deps.log.info('schedule triggered', { schedule: s.name, sessionId: session.id });
    await this.prune(s);
    return session;
  }

  /**
   * The create body of the schedule's sessions: its own, or its template's with the overrides
   * over it. Throws InvalidSchedule when the template is not one the owner may use.
   */
  async createBody(
    s: Pick<ScheduleRow, 'session_body' | 'template'>,
    owner: KeypairRow,
  ): Promise<Record<string, unknown>> {
    if (s.session_body) return s.session_body;
    const ref = s.template!;
    const t = isUuid(ref.template)
      ? await this.deps.templates.get(ref.template.toLowerCase())
      : (await this.deps.templates.list({ ownerAccessKey: owner.access_key, domain: null })).find(
          (x) => x.name === ref.template,
        );
    // The rule of /template/session: its owner, an admin of its domain, a superadmin.
    const as = { accessKey: owner.access_key, role: owner.role, domain: owner.domain_name };
    if (!t || !mayManageKeypair(as, t.owner_access_key, t.domain_name))
      throw new InvalidSchedule('template', `No session template "${ref.template}".`);
    const base = templateToCreateBody(t.template, { domain: t.domain_name, group: t.group_name });
    return mergeCreateOverrides(base, ref.overrides);
  }

  private async rowsFor(
    s: ScheduleRow,
    at: Date,
    received: Date,
    requestId: string | null = null,
  ): Promise<ScheduledRows> {
    const owner = await this.deps.catalog.keypair(s.access_key);
    if (!owner) throw new ObjectNotFound(`No keypair "${s.access_key}".`, 'keypair');
    const body = await this.createBody(s, owner);
    return this.deps.service.prepareScheduled(
      owner,
      body,
      { name: scheduledSessionName(s.name, at), schedule_id: s.id, schedule_name: s.name, scheduled_for: at },
      received,
      requestId,
    );
  }

  private insertIn(trx: Parameters<SessionStore['insertIn']>[0], rows: ScheduledRows): Promise<SessionRow> {
    return this.deps.sessions.insertIn(trx, rows.session, rows.kernels, rows.dependencies);
  }

  private afterCommit(session: SessionRow | null): void {
    if (!session) return;
    this.deps.sessions.notifyCommitted();
    this.deps.kickDispatcher();
  }

  /** Replace: the live runs end through the session cancel path, status_data naming the schedule. */
  private async cancelRuns(s: ScheduleRow, runs: SessionRow[], by: Date): Promise<void> {
    for (const r of runs) {
      await this.deps.service.destroy(r, false, {
        cancelledBy: 'schedule',
        scheduleName: s.name,
        replacedBy: by.toISOString(),
      });
      this.deps.log.info('schedule replaced a live run', { schedule: s.name, sessionId: r.id });
    }
  }

  /** Deletes history rows beyond the schedule's limits (the sessions themselves stay). */
  async prune(s: ScheduleRow): Promise<void> {
    try {
      const entries: HistoryEntry[] = (await this.deps.schedules.history(s.id)).map((r) => ({
        id: String(r.id),
        kind:
          r.status !== null && LIVE_STATUSES.includes(r.status)
            ? 'live'
            : r.session_id !== null && r.result === 'SUCCESS'
              ? 'success'
              : 'failure',
      }));
      const ids = historyToPrune(entries, s.successful_history_limit, s.failed_history_limit);
      await this.deps.schedules.deleteRuns(ids);
    } catch (err) {
      // The next firing prunes again.
      this.deps.log.error('pruning schedule history failed', { schedule: s.name, err: String(err) });
    }
  }
}
