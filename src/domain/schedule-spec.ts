import { isObj, pick, type Body } from './body-fields.js';
import { InvalidRequest, InvalidSchedule } from './errors.js';
import { checkCron } from './schedule-cron.js';
import { CONCURRENCY_POLICIES, type ConcurrencyPolicy } from './schedule-policy.js';
import { CREATE_ALIASES, parseCreateSessionBody } from './session-request.js';

/** A schedule as the API's bodies describe it, every field checked. */
export interface ScheduleSpec {
  name: string;
  cron: string;
  timezone: string;
  /** A POST /session create body (exactly one of session and template). */
  session: Body | null;
  template: ScheduleTemplateRef | null;
  concurrencyPolicy: ConcurrencyPolicy;
  startingDeadlineSeconds: number | null;
  suspend: boolean;
  successfulHistoryLimit: number;
  failedHistoryLimit: number;
}

/** A session template (its id or name) and a partial create body over it. */
export interface ScheduleTemplateRef {
  template: string;
  overrides: Body;
}

/** A schedule's name: its sessions are named `<name>-<unix seconds>` (64 characters at most). */
const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,46}[A-Za-z0-9_]$|^[A-Za-z0-9_]$/;
const HISTORY_MAX = 1000;
const DEADLINE_MAX = 366 * 24 * 3600;

/** Create-body fields a schedule decides itself: the session's name, start time, array, owner. */
const REFUSED_SESSION_FIELDS = [
  ...CREATE_ALIASES.name,
  'starts_at',
  'startsAt',
  'array',
  'owner_access_key',
  'ownerAccessKey',
];

const FIELDS = {
  name: ['name'],
  cron: ['cron', 'schedule'],
  timezone: ['timezone', 'timeZone', 'time_zone', 'tz'],
  session: ['session'],
  template: ['template'],
  overrides: ['overrides'],
  concurrencyPolicy: ['concurrencyPolicy', 'concurrency_policy'],
  startingDeadlineSeconds: ['startingDeadlineSeconds', 'starting_deadline_seconds'],
  suspend: ['suspend'],
  successfulHistoryLimit: [
    'successfulHistoryLimit',
    'successful_history_limit',
    'successfulJobsHistoryLimit',
  ],
  failedHistoryLimit: ['failedHistoryLimit', 'failed_history_limit', 'failedJobsHistoryLimit'],
} as const;
const KNOWN = new Set<string>(Object.values(FIELDS).flat());

export function checkScheduleName(v: unknown): string {
  if (typeof v !== 'string' || !NAME_RE.test(v))
    throw new InvalidSchedule(
      'name',
      'name must be 1 to 48 letters, digits, "_", "." or "-", starting and ending with a letter, digit or "_".',
    );
  return v;
}

function policyOf(v: unknown): ConcurrencyPolicy {
  const found = CONCURRENCY_POLICIES.find(
    (p) => typeof v === 'string' && p.toLowerCase() === v.toLowerCase(),
  );
  if (!found)
    throw new InvalidSchedule('concurrencyPolicy', 'concurrencyPolicy must be Allow, Forbid or Replace.');
  return found;
}

function intIn(v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw new InvalidSchedule(field, `${field} must be an integer from ${min} to ${max}.`);
  return v;
}

function boolOf(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw new InvalidSchedule(field, `${field} must be true or false.`);
  return v;
}

/** Throws InvalidSchedule naming `field` when `body` sets what a schedule decides itself. */
function refuseSessionFields(body: Body, field: string): void {
  for (const k of REFUSED_SESSION_FIELDS)
    if (body[k] !== undefined && body[k] !== null)
      throw new InvalidSchedule(
        field,
        `${field}.${k} is decided by the schedule (its name, instant and owner).`,
      );
}

/** A full create body: checked as POST /session would check it (under a placeholder name). */
function sessionBodyOf(v: unknown, now: Date): Body {
  if (!isObj(v))
    throw new InvalidSchedule('session', 'session must be a POST /session create body (an object).');
  refuseSessionFields(v, 'session');
  try {
    parseCreateSessionBody({ ...v, name: 'schedule-check' }, now);
  } catch (err) {
    if (err instanceof InvalidRequest) throw new InvalidSchedule('session', `session: ${err.message}`);
    throw err;
  }
  return v;
}

function templateOf(ref: unknown, overrides: unknown): ScheduleTemplateRef {
  // Both spellings: `template: "name"` with `overrides`, or the stored `{ template, overrides }`.
  if (isObj(ref)) return templateOf(ref.template, ref.overrides ?? overrides);
  if (typeof ref !== 'string' || ref === '' || ref.length > 128)
    throw new InvalidSchedule('template', 'template must be a session template id or name.');
  if (overrides !== undefined && overrides !== null && !isObj(overrides))
    throw new InvalidSchedule('overrides', 'overrides must be an object (a partial create body).');
  const o = (overrides ?? {}) as Body;
  refuseSessionFields(o, 'overrides');
  return { template: ref, overrides: o };
}

function fieldsOf(b: Body): Partial<Record<keyof typeof FIELDS, unknown>> {
  for (const k of Object.keys(b))
    if (!KNOWN.has(k)) throw new InvalidSchedule(k, `Unknown field "${k}" in a schedule.`);
  const out: Partial<Record<keyof typeof FIELDS, unknown>> = {};
  for (const [key, aliases] of Object.entries(FIELDS)) {
    const v = pick(b, ...aliases);
    if (v !== undefined) out[key as keyof typeof FIELDS] = v;
  }
  return out;
}

/** `base` with the fields `b` gives over it, checked; `b` without `name` for a PATCH. */
function merged(base: ScheduleSpec, b: Body, now: Date): ScheduleSpec {
  const f = fieldsOf(b);
  const out: ScheduleSpec = { ...base };
  if (f.session !== undefined && f.template !== undefined)
    throw new InvalidSchedule('session', 'Give either session or template, not both.');
  if (f.session !== undefined) {
    out.session = sessionBodyOf(f.session, now);
    out.template = null;
  } else if (f.template !== undefined) {
    out.template = templateOf(f.template, f.overrides);
    out.session = null;
  } else if (f.overrides !== undefined) {
    if (!base.template) throw new InvalidSchedule('overrides', 'overrides go with a template.');
    out.template = templateOf(base.template.template, f.overrides);
  }
  if (f.concurrencyPolicy !== undefined) out.concurrencyPolicy = policyOf(f.concurrencyPolicy);
  if (f.startingDeadlineSeconds !== undefined)
    out.startingDeadlineSeconds = intIn(
      f.startingDeadlineSeconds,
      'startingDeadlineSeconds',
      0,
      DEADLINE_MAX,
    );
  if (b.startingDeadlineSeconds === null || b.starting_deadline_seconds === null)
    out.startingDeadlineSeconds = null;
  if (f.suspend !== undefined) out.suspend = boolOf(f.suspend, 'suspend');
  if (f.successfulHistoryLimit !== undefined)
    out.successfulHistoryLimit = intIn(f.successfulHistoryLimit, 'successfulHistoryLimit', 0, HISTORY_MAX);
  if (f.failedHistoryLimit !== undefined)
    out.failedHistoryLimit = intIn(f.failedHistoryLimit, 'failedHistoryLimit', 0, HISTORY_MAX);
  if (f.timezone !== undefined) out.timezone = f.timezone as string;
  if (f.cron !== undefined) out.cron = f.cron as string;
  const c = checkCron({ cron: out.cron, timezone: out.timezone });
  return { ...out, ...c };
}

/** A `POST /schedules` body (camelCase or snake_case), with the defaults of docs/schedules.md. */
export function parseScheduleCreate(input: unknown, now: Date): ScheduleSpec {
  if (!isObj(input)) throw new InvalidSchedule('body', 'The request body must be a JSON object.');
  const name = checkScheduleName(input.name);
  if (input.cron === undefined && input.schedule === undefined)
    throw new InvalidSchedule('cron', 'cron is required.');
  const base: ScheduleSpec = {
    name,
    cron: '',
    timezone: 'UTC',
    session: null,
    template: null,
    concurrencyPolicy: 'Allow',
    startingDeadlineSeconds: null,
    suspend: false,
    successfulHistoryLimit: 3,
    failedHistoryLimit: 1,
  };
  const spec = merged(base, input, now);
  if (!spec.session && !spec.template)
    throw new InvalidSchedule('session', 'A schedule needs a session (a create body) or a template.');
  return spec;
}

/** A `PATCH /schedules/{name}` body over the schedule `current`: any field but `name`. */
export function parseSchedulePatch(current: ScheduleSpec, input: unknown, now: Date): ScheduleSpec {
  if (!isObj(input)) throw new InvalidSchedule('body', 'The request body must be a JSON object.');
  if (input.name !== undefined && input.name !== current.name)
    throw new InvalidSchedule('name', 'A schedule cannot be renamed.');
  return merged(current, input, now);
}
