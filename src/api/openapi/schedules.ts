import { ok, p, problem, q, type Json, type Op } from './common.js';

/** OpenAPI operations of the tag schedules (docs/schedules.md). */
const NAME = p('name', "The schedule's name (of the keypair the request acts for)");
const OWNER = q('owner_access_key', 'Admins: a schedule of this keypair');

const str: Json = { type: 'string' };
const strOrNull: Json = { type: ['string', 'null'] };
const intOrNull: Json = { type: ['integer', 'null'] };
const POLICY: Json = { enum: ['Allow', 'Forbid', 'Replace'] };
const TEMPLATE_REF: Json = {
  type: ['object', 'null'],
  properties: { template: str, overrides: { type: 'object', additionalProperties: true } },
};

const FIELDS: Record<string, Json> = {
  cron: {
    type: 'string',
    description: '5 fields, or 6 with seconds first, or @yearly @monthly @weekly @daily @hourly',
  },
  timezone: { type: 'string', description: 'IANA zone (default UTC); also time_zone, tz' },
  session: {
    type: 'object',
    additionalProperties: true,
    description: 'A POST /session create body without name, starts_at, array, owner_access_key',
  },
  template: { type: 'string', description: 'A session template id or name (instead of session)' },
  overrides: {
    type: 'object',
    additionalProperties: true,
    description: 'A partial create body over the template',
  },
  concurrencyPolicy: { ...POLICY, description: 'Default Allow; also concurrency_policy' },
  startingDeadlineSeconds: {
    ...intOrNull,
    description: 'An instant not fired within this is recorded missed (default null: no deadline)',
  },
  suspend: { type: 'boolean', description: 'Default false' },
  successfulHistoryLimit: { type: 'integer', description: 'Default 3' },
  failedHistoryLimit: { type: 'integer', description: 'Default 1' },
};

const RUN: Json = {
  type: 'object',
  properties: {
    scheduledFor: str,
    outcome: { enum: ['started', 'skipped', 'missed', 'triggered', 'failed'] },
    sessionId: strOrNull,
    status: strOrNull,
    result: strOrNull,
    exitCode: intOrNull,
    error: { ...strOrNull, description: 'failed: why the session was not admitted' },
  },
};

const VIEW_PROPS: Record<string, Json> = {
  id: str,
  name: str,
  ownerAccessKey: str,
  domain: str,
  cron: str,
  timezone: str,
  concurrencyPolicy: POLICY,
  startingDeadlineSeconds: intOrNull,
  suspend: { type: 'boolean' },
  successfulHistoryLimit: { type: 'integer' },
  failedHistoryLimit: { type: 'integer' },
  session: { type: ['object', 'null'], additionalProperties: true },
  template: TEMPLATE_REF,
  nextRunAt: { ...strOrNull, description: 'ISO UTC; null when suspended or none is left' },
  lastRun: { oneOf: [{ type: 'null' }, RUN] },
  createdAt: str,
  updatedAt: str,
};
const VIEW: Json = { type: 'object', properties: VIEW_PROPS };

export const SCHEDULE_OPS: Op[] = [
  {
    method: 'post',
    path: '/schedules',
    tag: 'schedules',
    summary: 'Create a schedule: a session at each instant of a cron expression',
    description:
      'Exactly one of session and template. Bad cron, zone, policy or field: 400 invalid-schedule (data.field names it); a name you already use: 409 schedule-exists.',
    params: [q('owner_access_key', 'Admins: create it for this keypair')],
    body: { type: 'object', required: ['name', 'cron'], properties: { name: str, ...FIELDS } },
    response: ok('Created', VIEW),
    status: '201',
    responses: { '409': problem('schedule-exists: you have a schedule of that name') },
  },
  {
    method: 'get',
    path: '/schedules',
    tag: 'schedules',
    summary: "Your schedules; all=true: admins their domain's, superadmins every one",
    params: [q('all', 'true: every schedule you may see (admins)'), OWNER],
    response: ok('Schedules', { type: 'object', properties: { items: { type: 'array', items: VIEW } } }),
  },
  {
    method: 'get',
    path: '/schedules/{name}',
    tag: 'schedules',
    summary: 'One schedule with its next five instants and its last runs',
    params: [NAME, OWNER],
    response: ok('Schedule', {
      type: 'object',
      properties: {
        ...VIEW_PROPS,
        nextInstants: {
          type: 'array',
          items: str,
          description: "ISO 8601 in the schedule's zone with its offset, e.g. 2026-03-29T03:00:00+02:00",
        },
        runs: { type: 'array', items: RUN, description: 'newest first, at most 20' },
      },
    }),
  },
  {
    method: 'patch',
    path: '/schedules/{name}',
    tag: 'schedules',
    summary: 'Change a schedule (any field but name); {"suspend": true|false} suspends or resumes',
    description: 'A changed cron, zone or suspend plans the next instant from now.',
    params: [NAME, OWNER],
    body: { type: 'object', properties: FIELDS },
    response: ok('Changed', VIEW),
  },
  {
    method: 'delete',
    path: '/schedules/{name}',
    tag: 'schedules',
    summary: 'Delete a schedule and its history (its sessions go on)',
    params: [NAME, OWNER],
    response: { description: 'Deleted' },
    status: '204',
  },
  {
    method: 'post',
    path: '/schedules/{name}/trigger',
    tag: 'schedules',
    summary: 'A run now, outside the plan (recorded as triggered)',
    params: [NAME, OWNER],
    response: ok('Created', {
      type: 'object',
      properties: { sessionId: str, sessionName: str, scheduledFor: str },
    }),
    status: '201',
  },
];
