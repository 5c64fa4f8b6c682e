import { Gauge, type Registry } from 'prom-client';
import type { ScheduleState } from '../persistence/schedule-metrics-store.js';

type Labels = 'schedule' | 'access_key';

/**
 * The schedules' gauges (docs/metrics.md), set from one scrape's read: how many are active and
 * suspended, and per schedule its next instant and what its latest run came to. Reset at each
 * scrape, so a deleted schedule's series go with it.
 */
export class ScheduleGauges {
  private readonly byState: Gauge<'state'>;
  private readonly nextRun: Gauge<Labels>;
  private readonly lastRun: Gauge<Labels | 'outcome' | 'result'>;
  private readonly lastSuccess: Gauge<Labels>;

  constructor(registers: Registry[]) {
    this.byState = new Gauge({
      name: 'bai_schedules',
      help: 'Schedules by state: active (firing) or suspended.',
      labelNames: ['state'],
      registers,
    });
    this.nextRun = new Gauge({
      name: 'bai_schedule_next_run_timestamp_seconds',
      help: 'Unix time of the next instant each active schedule fires at (absent when suspended or none is left).',
      labelNames: ['schedule', 'access_key'],
      registers,
    });
    this.lastRun = new Gauge({
      name: 'bai_schedule_last_run_timestamp_seconds',
      help: 'Unix time of the instant of each schedule’s latest run, labelled with its outcome and its session’s result (NONE: no session).',
      labelNames: ['schedule', 'access_key', 'outcome', 'result'],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'bai_schedule_last_run_success',
      help: 'Latest run of each schedule: 1 its session succeeded, 0 it failed or the instant was missed or not admitted (absent while it runs, when skipped, or before any run).',
      labelNames: ['schedule', 'access_key'],
      registers,
    });
  }

  apply(states: ScheduleState[]): void {
    this.byState.reset();
    this.nextRun.reset();
    this.lastRun.reset();
    this.lastSuccess.reset();
    this.byState.set({ state: 'active' }, states.filter((s) => !s.suspend).length);
    this.byState.set({ state: 'suspended' }, states.filter((s) => s.suspend).length);
    for (const s of states) {
      const labels = { schedule: s.name, access_key: s.accessKey };
      if (s.nextRunAt && !s.suspend) this.nextRun.set(labels, s.nextRunAt.getTime() / 1000);
      const run = s.lastRun;
      if (!run) continue;
      const result = run.result ?? 'NONE';
      this.lastRun.set({ ...labels, outcome: run.outcome, result }, run.scheduledFor.getTime() / 1000);
      const success = lastRunSuccess(run);
      if (success !== null) this.lastSuccess.set(labels, success);
    }
  }
}

/** 1 succeeded, 0 failed, missed or not admitted; null while it runs or when the instant was skipped. */
export function lastRunSuccess(run: NonNullable<ScheduleState['lastRun']>): 0 | 1 | null {
  if (run.outcome === 'missed' || run.outcome === 'failed') return 0;
  if (run.result === 'SUCCESS') return 1;
  if (run.result === 'FAILURE') return 0;
  return null;
}
