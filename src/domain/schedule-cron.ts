import { Cron } from 'croner';
import { InvalidSchedule } from './errors.js';

/**
 * Cron instants of a schedule: the one place bai reads cron expressions (croner, which follows
 * Vixie cron across DST: a fixed-time job in a skipped hour runs at the hour after, once; in a
 * repeated hour it runs once; interval jobs run in both copies of a repeated hour).
 * Accepted: 5 fields, 6 fields with seconds first, and the macros @yearly @annually @monthly
 * @weekly @daily @midnight @hourly. Time zones are IANA names; UTC when none is given.
 */
export interface CronSpec {
  cron: string;
  timezone: string;
}

/** How many instants one enumeration may walk (a schedule every second after a day down). */
export const MAX_INSTANTS_PER_WALK = 500;

function job(spec: CronSpec): Cron {
  return new Cron(spec.cron, { timezone: spec.timezone, paused: true, mode: '5-or-6-parts' });
}

/** Throws InvalidSchedule (naming `timezone`) unless `zone` is an IANA zone name this runtime knows. */
export function checkTimezone(zone: unknown): string {
  if (typeof zone !== 'string' || zone === '' || zone.length > 64)
    throw new InvalidSchedule('timezone', 'timezone must be an IANA time zone name such as "Europe/Berlin".');
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
  } catch {
    throw new InvalidSchedule('timezone', `Unknown time zone "${zone}".`);
  }
  return zone;
}

/** Throws InvalidSchedule (naming `cron`) unless `spec.cron` is an expression bai accepts. */
export function checkCron(spec: CronSpec): CronSpec {
  const cron = spec.cron;
  if (typeof cron !== 'string' || cron.trim() === '' || cron.length > 256)
    throw new InvalidSchedule(
      'cron',
      'cron must be a cron expression of 5 or 6 fields, or a macro like @hourly.',
    );
  const fields = cron.trim().split(/\s+/);
  if (!cron.trim().startsWith('@') && fields.length !== 5 && fields.length !== 6)
    throw new InvalidSchedule(
      'cron',
      `cron must have 5 fields (or 6, seconds first): "${cron}" has ${fields.length}.`,
    );
  checkTimezone(spec.timezone);
  try {
    job({ cron: cron.trim(), timezone: spec.timezone });
  } catch (err) {
    throw new InvalidSchedule('cron', `Invalid cron expression "${cron}": ${(err as Error).message}`);
  }
  return { cron: cron.trim(), timezone: spec.timezone };
}

/** The first instant strictly after `after`; null when the expression has none left. */
export function nextInstant(spec: CronSpec, after: Date): Date | null {
  return job(spec).nextRun(after);
}

/** The next `n` instants strictly after `after`. */
export function nextInstants(spec: CronSpec, after: Date, n: number): Date[] {
  return job(spec).nextRuns(n, after);
}

/**
 * The instants from `from` (included) to `until` (included), at most `max`; `more` says whether
 * the walk stopped at `max` with instants still left before `until`.
 */
export function instantsBetween(
  spec: CronSpec,
  from: Date,
  until: Date,
  max = MAX_INSTANTS_PER_WALK,
): { instants: Date[]; more: boolean } {
  const c = job(spec);
  const out: Date[] = [];
  let t: Date | null = c.nextRun(new Date(from.getTime() - 1));
  while (t && t.getTime() <= until.getTime()) {
    if (out.length === max) return { instants: out, more: true };
    out.push(t);
    t = c.nextRun(t);
  }
  return { instants: out, more: false };
}

/** `at` as ISO 8601 in `zone` with its offset, e.g. `2026-03-29T03:00:00+02:00`. */
export function isoInZone(at: Date, zone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone: zone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(at);
  const p = (type: string) => parts.find((x) => x.type === type)?.value ?? '00';
  const local = Date.UTC(+p('year'), +p('month') - 1, +p('day'), +p('hour'), +p('minute'), +p('second'));
  const offsetMin = Math.round((local - Math.floor(at.getTime() / 1000) * 1000) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const off = `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
  return `${p('year')}-${p('month')}-${p('day')}T${p('hour')}:${p('minute')}:${p('second')}${off}`;
}
