import type { Db } from './db.js';

/** A schedule as a scrape reads it: its state, its next instant, and what its latest run came to. */
export interface ScheduleState {
  name: string;
  accessKey: string;
  suspend: boolean;
  nextRunAt: Date | null;
  /** The latest run (by instant): null before the first. */
  lastRun: {
    scheduledFor: Date;
    /** started | skipped | missed | triggered | failed */
    outcome: string;
    /** The run's session: null when it has none (skipped, missed, failed) or it was removed. */
    status: string | null;
    result: string | null;
  } | null;
}

interface Row {
  name: string;
  access_key: string;
  suspend: boolean;
  next_run_at: Date | null;
  scheduled_for: Date | null;
  outcome: string | null;
  status: string | null;
  result: string | null;
}

/**
 * What `GET /metrics` reads of schedules (migrations/20261129100000_schedules.ts): every schedule
 * with its latest run and that run's session, in one statement, once per scrape
 * (manager-metrics.ts, with the session and agent reads).
 */
export class ScheduleMetricsStore {
  constructor(private readonly db: Db) {}

  async scheduleStates(): Promise<ScheduleState[]> {
    const { rows } = (await this.db.raw(
      `SELECT s.name, s.access_key, s.suspend, s.next_run_at,
              r.scheduled_for, r.outcome, ss.status, ss.result
         FROM schedules s
         LEFT JOIN LATERAL (
           SELECT scheduled_for, outcome, session_id FROM schedule_runs
            WHERE schedule_id = s.id ORDER BY scheduled_for DESC LIMIT 1
         ) r ON true
         LEFT JOIN sessions ss ON ss.id = r.session_id
        ORDER BY s.access_key, s.name`,
    )) as { rows: Row[] };
    return rows.map((r) => ({
      name: r.name,
      accessKey: r.access_key,
      suspend: r.suspend,
      nextRunAt: r.next_run_at ? new Date(r.next_run_at) : null,
      lastRun:
        r.scheduled_for && r.outcome
          ? {
              scheduledFor: new Date(r.scheduled_for),
              outcome: r.outcome,
              status: r.status,
              result: r.result,
            }
          : null,
    }));
  }
}
