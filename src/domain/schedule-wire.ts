/**
 * Schedules as the API shows them (the contract of issue 16: docs/api.md), and how a run and an
 * instant read for people — shared by the CLI and the console.
 */

/** A run of a schedule as the API shows it (`lastRun`, `runs[]`). */
export interface ScheduleRunWire {
  scheduledFor: string;
  /** started | skipped | missed | triggered | failed (the run's session could not be created) */
  outcome: string;
  sessionId: string | null;
  status: string | null;
  result: string | null;
  exitCode: number | null;
  /** Why a `failed` run could not be created. */
  error?: string | null;
}

/** A schedule as `GET /schedules/{name}` answers it (the list's items lack `nextInstants` and `runs`). */
export interface ScheduleWire {
  id: string;
  name: string;
  ownerAccessKey: string;
  domain: string;
  cron: string;
  timezone: string;
  concurrencyPolicy: string;
  startingDeadlineSeconds: number | null;
  suspend: boolean;
  successfulHistoryLimit: number;
  failedHistoryLimit: number;
  session: Record<string, unknown> | null;
  template: unknown;
  nextRunAt: string | null;
  lastRun: ScheduleRunWire | null;
  createdAt: string;
  updatedAt: string;
  nextInstants?: string[];
  runs?: ScheduleRunWire[];
}

/** What `POST /schedules/{name}/trigger` answers. */
export interface ScheduleTriggerWire {
  sessionId: string;
  sessionName: string;
  scheduledFor: string;
}

/**
 * An instant in the zone it was given in, as people read it: `2026-03-29T03:00:00+02:00` →
 * `2026-03-29 03:00:00 +02:00`; a UTC instant (`Z`) shows `UTC`.
 */
export function instantText(iso: string | null | undefined): string {
  if (!iso) return '-';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?(Z|[+-]\d{2}:?\d{2})$/.exec(iso);
  if (!m) return iso;
  return `${m[1]} ${m[2]} ${m[3] === 'Z' ? 'UTC' : m[3]}`;
}

/**
 * What a run came to, in a word or two: the session's result and exit code once it ended, its
 * status while it runs, `skipped`/`missed` for the instants that started nothing.
 */
export function runResultText(run: ScheduleRunWire | null | undefined): string {
  if (!run) return '-';
  if (run.outcome === 'skipped' || run.outcome === 'missed') return run.outcome;
  if (run.outcome === 'failed') return run.error ? `failed: ${run.error}` : 'failed';
  if (!run.status) return run.sessionId ? `${run.outcome} (session gone)` : run.outcome;
  if (run.result && run.result !== 'UNDEFINED')
    return `${run.result}${run.exitCode === null ? '' : ` exit ${run.exitCode}`}`;
  return run.status;
}
