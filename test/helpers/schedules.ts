import type { ApiClient } from '../../src/cli/client.js';
import type { Db } from '../../src/persistence/db.js';
import { call } from './api.js';
import { eventually } from './eventually.js';

/** A schedule_runs row as the tests read it from the database. */
export interface RunRow {
  scheduled_for: Date;
  outcome: string;
  session_id: string | null;
  created_at: Date;
}

/** A schedule's session as the tests read it. */
export interface ScheduledSession {
  id: string;
  name: string;
  status: string;
  status_info: string | null;
  status_data: Record<string, unknown>;
  scheduled_for: Date;
  created_at: Date;
  started_at: Date | null;
  terminated_at: Date | null;
}

export async function scheduleId(db: Db, name: string): Promise<string> {
  const row = (await db('schedules').where({ name }).first('id')) as { id: string } | undefined;
  if (!row) throw new Error(`no schedule ${name}`);
  return row.id;
}

/** Every run row of the schedule, oldest instant first. */
export async function runsOf(db: Db, name: string): Promise<RunRow[]> {
  return (await db('schedule_runs')
    .where('schedule_id', await scheduleId(db, name))
    .orderBy('scheduled_for')
    .select('scheduled_for', 'outcome', 'session_id', 'created_at')) as RunRow[];
}

/** Every session the schedule created, oldest instant first. */
export async function sessionsOf(db: Db, name: string): Promise<ScheduledSession[]> {
  return (await db('sessions')
    .where('schedule_name', name)
    .orderBy('scheduled_for')
    .select(
      'id',
      'name',
      'status',
      'status_info',
      'status_data',
      'scheduled_for',
      'created_at',
      'started_at',
      'terminated_at',
    )) as ScheduledSession[];
}

/** Waits until the schedule has decided at least `n` instants (with `outcome`, if given). */
export async function waitRuns(
  db: Db,
  name: string,
  n: number,
  opts: { outcome?: string; timeoutMs?: number } = {},
): Promise<RunRow[]> {
  let seen = 0;
  return eventually(
    async () => {
      const rows = (await runsOf(db, name)).filter((r) => !opts.outcome || r.outcome === opts.outcome);
      seen = rows.length;
      return rows.length >= n ? rows : null;
    },
    {
      timeoutMs: opts.timeoutMs ?? 180_000,
      intervalMs: 200,
      message: () => `${n} ${opts.outcome ?? ''} runs of ${name} (${seen} so far)`,
    },
  );
}

/** Creates a schedule through the API; throws unless 201. */
export async function createSchedule(
  client: ApiClient,
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const r = await call(client, 'POST', '/schedules', body);
  if (r.status !== 201) throw new Error(`schedule create: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Suspends the schedule (PATCH suspend: true) and returns the run rows decided by then. */
export async function suspend(client: ApiClient, db: Db, name: string): Promise<RunRow[]> {
  const r = await call(client, 'PATCH', `/schedules/${name}`, { suspend: true });
  if (r.status !== 200) throw new Error(`suspend: ${r.status} ${JSON.stringify(r.body)}`);
  return runsOf(db, name);
}

/** The instants an every-`step`-seconds schedule has between `first` and `last` (both included). */
export function instantsFromTo(first: Date, last: Date, stepSeconds: number): string[] {
  const out: string[] = [];
  for (let t = first.getTime(); t <= last.getTime(); t += stepSeconds * 1000)
    out.push(new Date(t).toISOString());
  return out;
}

/** A batch create body for schedules (no enqueueOnly: schedules never wait). */
export function job(command: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { image: 'python', type: 'batch', startupCommand: command, ...extra };
}
