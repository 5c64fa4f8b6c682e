import { ScheduleExists } from '../domain/errors.js';
import type { RunOutcome } from '../domain/schedule-policy.js';
import type { ScheduleSpec } from '../domain/schedule-spec.js';
import { LIVE_STATUSES } from '../domain/status.js';
import { preparedRaw } from './prepared.js';
import type { Db, Tx } from './db.js';
import type { ScheduleRow, ScheduleRunView } from './schedule-rows.js';
import type { SessionRow } from './rows.js';

export type { ScheduleRow, ScheduleRunView } from './schedule-rows.js';

/** Who a listing is for: one keypair's schedules, a domain's, or every one. */
export interface ScheduleScope {
  accessKey?: string;
  domain?: string;
}

/** The decision of one tick, written by `fire` in one transaction. */
export interface FireDecision {
  scheduleId: string;
  /** The next_run_at the decision was taken on: another manager moved it, nothing is written. */
  expectedNextRunAt: Date;
  missed: Date[];
  /** The instant acted on, its outcome, and the session's insert when it started one. */
  run: { at: Date; outcome: RunOutcome; error?: string; insert?: (trx: Tx) => Promise<SessionRow> } | null;
  nextRunAt: Date | null;
}

function specColumns(s: ScheduleSpec) {
  return {
    cron: s.cron,
    timezone: s.timezone,
    session_body: s.session === null ? null : JSON.stringify(s.session),
    template: s.template === null ? null : JSON.stringify(s.template),
    concurrency_policy: s.concurrencyPolicy,
    starting_deadline_seconds: s.startingDeadlineSeconds,
    suspend: s.suspend,
    successful_history_limit: s.successfulHistoryLimit,
    failed_history_limit: s.failedHistoryLimit,
  };
}

const isUniqueViolation = (err: unknown, constraint: string) =>
  (err as { code?: string; constraint?: string }).code === '23505' &&
  (err as { constraint?: string }).constraint === constraint;

/** A run's columns with its session's status and result (`schedule_runs as r` joined to `sessions as s`). */
const RUN_VIEW_COLUMNS = [
  'r.id',
  'r.scheduled_for',
  'r.outcome',
  'r.session_id',
  'r.error',
  'r.created_at',
  's.status',
  's.result',
  's.exit_code',
];

/**
 * Schedules and their runs (docs/schedules.md). An instant is decided once: `fire` moves the
 * schedule's next_run_at only if it is still the one decided on (a guarded UPDATE, which locks
 * the row), and writes the run rows and the session in the same transaction; the unique key
 * (schedule_id, scheduled_for) refuses a second row for an instant whatever else went wrong.
 */
export class ScheduleStore {
  constructor(private readonly db: Db) {}

  async create(
    spec: ScheduleSpec,
    owner: { access_key: string; domain_name: string },
    id: string,
    nextRunAt: Date | null,
  ): Promise<ScheduleRow> {
    try {
      const [row] = await this.db('schedules')
        .insert({
          id,
          name: spec.name,
          access_key: owner.access_key,
          domain_name: owner.domain_name,
          ...specColumns(spec),
          next_run_at: nextRunAt,
        })
        .returning('*');
      return row as ScheduleRow;
    } catch (err) {
      if (isUniqueViolation(err, 'schedules_owner_name_uq')) throw new ScheduleExists(spec.name);
      throw err;
    }
  }

  async get(accessKey: string, name: string): Promise<ScheduleRow | undefined> {
    return this.db<ScheduleRow>('schedules').where({ access_key: accessKey, name }).first();
  }

  async byId(id: string): Promise<ScheduleRow | undefined> {
    return this.db<ScheduleRow>('schedules').where({ id }).first();
  }

  async list(scope: ScheduleScope): Promise<ScheduleRow[]> {
    let q = this.db<ScheduleRow>('schedules');
    if (scope.accessKey !== undefined) q = q.where('access_key', scope.accessKey);
    if (scope.domain !== undefined) q = q.where('domain_name', scope.domain);
    return q.orderBy([{ column: 'access_key' }, { column: 'name' }]);
  }

  /** Replaces the spec; `nextRunAt` is written only when given (a changed cron, zone or suspend). */
  async update(id: string, spec: ScheduleSpec, nextRunAt?: Date | null): Promise<ScheduleRow | undefined> {
    const set: Record<string, unknown> = { ...specColumns(spec), updated_at: this.db.fn.now() };
    if (nextRunAt !== undefined) set.next_run_at = nextRunAt;
    const [row] = await this.db('schedules').where({ id }).update(set).returning('*');
    return row as ScheduleRow | undefined;
  }

  /** Deletes the schedule and its history rows; its sessions stay (they name it). */
  async delete(id: string): Promise<boolean> {
    return (await this.db('schedules').where({ id }).del()) > 0;
  }

  /**
   * Schedules whose next instant has come, earliest first, and in the same statement the first schedule not due yet (its next_run_at is the
   * earliest left when none is due): an idle tick costs one round trip, not two.
   */
  async dueAndNext(now: Date, limit = 100): Promise<{ due: ScheduleRow[]; next: Date | null }> {
    // The ticker's read, every second on the lease holder: named, parsed once per connection.
    const { rows } = (await preparedRaw(
      this.db,
      'bai_schedules_due',
      `(SELECT * FROM schedules WHERE suspend = false AND next_run_at IS NOT NULL AND next_run_at <= ?
         ORDER BY next_run_at LIMIT ?)
       UNION ALL
       (SELECT * FROM schedules WHERE suspend = false AND next_run_at > ? ORDER BY next_run_at LIMIT 1)`,
      [now, limit, now],
    )) as { rows: ScheduleRow[] };
    const due = rows.filter((r) => r.next_run_at !== null && r.next_run_at.getTime() <= now.getTime());
    const later = rows.find((r) => !due.includes(r));
    return { due, next: later?.next_run_at ?? null };
  }

  /** The earliest next_run_at of any schedule that is not suspended; null: none. */
  async earliest(): Promise<Date | null> {
    const { rows } = (await preparedRaw(
      this.db,
      'bai_schedules_earliest',
      'SELECT min(next_run_at) AS at FROM schedules WHERE suspend = false AND next_run_at IS NOT NULL',
    )) as { rows: { at: Date | null }[] };
    return rows[0]?.at ?? null;
  }

  /** The schedule's live sessions (PENDING … TERMINATING), oldest instant first. */
  async liveRuns(scheduleId: string): Promise<SessionRow[]> {
    return this.db<SessionRow>('sessions')
      .where('schedule_id', scheduleId)
      .whereIn('status', LIVE_STATUSES as string[])
      .orderBy('scheduled_for');
  }

  /**
   * Writes a tick's decision in one transaction: the schedule's next instant, missed rows, the
   * run of the instant acted on (with its session). Null when the decision is stale: the
   * schedule is gone, suspended, or its next_run_at moved (another manager decided), or a row
   * of one of these instants exists. Returns the run's session, if it created one.
   */
  async fire(d: FireDecision): Promise<{ session: SessionRow | null } | null> {
    try {
      return await this.db.transaction(async (trx) => {
        // The guarded UPDATE both checks the decision is current and locks the row until commit
        // (a second manager's waits, then finds next_run_at moved and updates nothing).
        const moved = await trx('schedules')
          .where({ id: d.scheduleId, suspend: false, next_run_at: d.expectedNextRunAt })
          .update({ next_run_at: d.nextRunAt });
        if (moved === 0) return null;
        const rows: Record<string, unknown>[] = d.missed.map((at) => ({
          schedule_id: d.scheduleId,
          scheduled_for: at,
          outcome: 'missed',
        }));
        let session: SessionRow | null = null;
        if (d.run) {
          session = d.run.insert ? await d.run.insert(trx) : null;
          rows.push({
            schedule_id: d.scheduleId,
            scheduled_for: d.run.at,
            outcome: d.run.outcome,
            session_id: session?.id ?? null,
            error: d.run.error ?? null,
          });
        }
        if (rows.length > 0) await trx('schedule_runs').insert(rows);
        return { session };
      });
    } catch (err) {
      if (isUniqueViolation(err, 'schedule_runs_instant_uq')) return null;
      throw err;
    }
  }

  /** A run outside the plan (POST …/trigger): its row and session in one transaction. */
  async trigger(scheduleId: string, at: Date, insert: (trx: Tx) => Promise<SessionRow>): Promise<SessionRow> {
    return this.db.transaction(async (trx) => {
      const session = await insert(trx);
      await trx('schedule_runs').insert({
        schedule_id: scheduleId,
        scheduled_for: at,
        outcome: 'triggered',
        session_id: session.id,
      });
      return session;
    });
  }

  /** The schedule's history, newest instant first, with each run's session status and result. */
  async runs(scheduleId: string, limit = 20): Promise<ScheduleRunView[]> {
    return (await this.db('schedule_runs as r')
      .leftJoin('sessions as s', 's.id', 'r.session_id')
      .where('r.schedule_id', scheduleId)
      .orderBy('r.scheduled_for', 'desc')
      .limit(limit)
      .select(RUN_VIEW_COLUMNS)) as ScheduleRunView[];
  }

  /** The latest run of each of `ids` (for listings). */
  async lastRuns(ids: string[]): Promise<Map<string, ScheduleRunView>> {
    if (ids.length === 0) return new Map();
    const rows = (await this.db('schedule_runs as r')
      .distinctOn('r.schedule_id')
      .leftJoin('sessions as s', 's.id', 'r.session_id')
      .whereIn('r.schedule_id', ids)
      .orderBy([{ column: 'r.schedule_id' }, { column: 'r.scheduled_for', order: 'desc' }])
      .select('r.schedule_id', ...RUN_VIEW_COLUMNS)) as (ScheduleRunView & { schedule_id: string })[];
    return new Map(rows.map((r) => [r.schedule_id, r]));
  }

  /** Every history row of the schedule, newest first (pruning reads them all). */
  async history(scheduleId: string): Promise<ScheduleRunView[]> {
    return this.runs(scheduleId, 100_000);
  }

  async deleteRuns(ids: string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return this.db('schedule_runs').whereIn('id', ids).del();
  }
}
