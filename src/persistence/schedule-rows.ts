import type { ConcurrencyPolicy, RunOutcome } from '../domain/schedule-policy.js';
import type { ScheduleTemplateRef } from '../domain/schedule-spec.js';
import type { SessionResult, SessionStatus } from '../domain/status.js';

/** A row of `schedules` (migrations/20261129100000_schedules.ts). */
export interface ScheduleRow {
  id: string;
  name: string;
  access_key: string;
  domain_name: string;
  cron: string;
  timezone: string;
  session_body: Record<string, unknown> | null;
  template: ScheduleTemplateRef | null;
  concurrency_policy: ConcurrencyPolicy;
  starting_deadline_seconds: number | null;
  suspend: boolean;
  successful_history_limit: number;
  failed_history_limit: number;
  next_run_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

/** A row of `schedule_runs` with what became of its session (null columns when it has none). */
export interface ScheduleRunView {
  id: string;
  scheduled_for: Date;
  outcome: RunOutcome;
  session_id: string | null;
  error: string | null;
  created_at: Date;
  status: SessionStatus | null;
  result: SessionResult | null;
  exit_code: number | null;
}
