import {
  IDEMPOTENCY_KEY,
  OWNER,
  SESSION_REF,
  json,
  list,
  ok,
  problem,
  q,
  ref,
  type Json,
  type Op,
} from './common.js';

/** The answer of a create whose Idempotency-Key came before with another body. */
const KEY_CONFLICT = {
  '422': problem(
    'idempotency-key-conflict: the key was used with another body (data.sessionId: its session)',
  ),
};

/** `GET /session/{ref}/logs` answered at once (without `follow`). */
const LOGS: Json = {
  type: 'object',
  properties: {
    result: {
      type: 'object',
      properties: {
        logs: {
          type: 'string',
          description:
            'the output; a truncated one keeps its tail and opens with the line `[bai: output truncated, last N bytes follow]`',
        },
        truncated: { type: 'boolean', description: 'without `after`: only the tail is kept' },
        totalBytes: {
          type: ['integer', 'null'],
          description: 'without `after`: bytes of the whole output, as the agent counted them',
        },
        cursor: { type: 'string', description: 'with `after` only' },
        more: { type: 'boolean', description: 'with `after` only' },
        ended: { type: 'boolean', description: 'with `after` only' },
        offset: {
          type: 'integer',
          description: 'with `after` only: bytes of the whole output before `logs`',
        },
        gap: {
          type: 'boolean',
          description: 'with `after` only: an unknown part of the output was skipped before `logs`',
        },
        waited: {
          type: 'boolean',
          description: 'with `wait_ms` only: the manager blocked on the live copy before answering',
        },
      },
    },
  },
};

/** OpenAPI operations of the tags meta and sessions (Backend.AI's session API and SSE). */
export const META_OPS: Op[] = [
  {
    method: 'get',
    path: '/',
    tag: 'meta',
    summary: 'API version negotiation (unauthenticated)',
    response: ok('Versions', ref('Version')),
    public: true,
  },
  {
    method: 'get',
    path: '/openapi.json',
    tag: 'meta',
    summary: 'This document (unauthenticated)',
    response: ok('OpenAPI 3.1'),
    public: true,
  },
  {
    method: 'get',
    path: '/health',
    tag: 'meta',
    summary: "This manager's health (unauthenticated): 200 when healthy, 503 when not",
    description:
      'eventTail: whether the tail of session events advances (SSE streams and create waits depend on it); since: when it entered that state; lastError: the kind of its last failure (database-unavailable, an error code), details in the log.',
    response: ok('Healthy', ref('Health')),
    public: true,
  },
];

export const SESSION_OPS: Op[] = [
  {
    method: 'post',
    path: '/session',
    tag: 'sessions',
    summary: 'Create a session, or get the live one of that name',
    description:
      'Both spellings (camelCase and snake_case) of every field are accepted. With enqueueOnly false the answer waits up to maxWaitSeconds for RUNNING (status TIMEOUT when it expires; 0: no limit but the client’s; a session that already ended answers its final status).',
    params: [IDEMPOTENCY_KEY],
    body: ref('CreateSession'),
    response: ok(
      "Created (created: true), or reused (created: false): the live session of that name, or the Idempotency-Key's session",
      ref('CreateAnswer'),
    ),
    status: '201',
    responses: KEY_CONFLICT,
  },
  {
    method: 'post',
    path: '/session/_/create',
    tag: 'sessions',
    summary: 'Create a session (older route of the same)',
    params: [IDEMPOTENCY_KEY],
    body: ref('CreateSession'),
    response: ok('Created or reused', ref('CreateAnswer')),
    status: '201',
    responses: KEY_CONFLICT,
  },
  {
    method: 'get',
    path: '/session/{ref}',
    tag: 'sessions',
    summary: 'Session info',
    description:
      'An array parent adds `array` (counts by status, a page of children); a child adds `arrayParent`.',
    params: [
      SESSION_REF,
      OWNER,
      q('children_limit', 'an array parent: children per page (default 100, at most 1000)', {
        type: 'integer',
      }),
      q('children_offset', 'an array parent: children to skip (index order)', { type: 'integer' }),
    ],
    response: ok('Session', ref('SessionInfo')),
  },
  {
    method: 'delete',
    path: '/session/{ref}',
    tag: 'sessions',
    summary: 'Cancel (PENDING) or terminate a session',
    params: [
      SESSION_REF,
      OWNER,
      q('forced', 'true: force-terminated', { type: 'boolean' }),
      q(
        'recursive',
        'true: also cancel or terminate every session that depends on it (transitively, same reason); they are listed in `dependents`',
        { type: 'boolean' },
      ),
    ],
    response: ok(
      'Stats and the new status (with recursive: `dependents`, each {sessionId, sessionName, status, statusInfo})',
    ),
  },
  {
    method: 'get',
    path: '/session/{ref}/logs',
    tag: 'sessions',
    summary: 'Container logs (so far, while it runs)',
    params: [
      SESSION_REF,
      OWNER,
      q('kernel_id', 'A kernel other than the main one'),
      q(
        'after',
        'bai extension: only the output copied after this cursor ("0" for the start), with the next cursor; `more` says another page waits, `ended` that the kernel has ended',
      ),
      q(
        'wait_ms',
        'bai extension, with `after`: when nothing came after the cursor yet and the kernel runs on an agent, block up to this many milliseconds (0–20000) until the agent copies more (answered with `waited: true`); ends early when output comes or the client goes away',
      ),
      q(
        'follow',
        'bai extension (`1` or `true`; `after` defaults to "0"): one long answer, `application/x-ndjson`, one page a line `{logs, cursor, offset?, gap?}` sent as the agent copies the output; the last line has `ended: true` once the kernel has ended and all it copied was sent. It ends without that line when the client goes away or the manager shuts down: follow on with `after=` the last cursor. A page with empty `logs` keeps an idle stream open. Errors (404, 400) come before it starts, as problem+json',
      ),
    ],
    response: {
      description: 'Logs; with `follow`, a stream of pages (application/x-ndjson)',
      content: {
        ...json(LOGS),
        'application/x-ndjson': {
          schema: {
            type: 'object',
            description: 'one line of a follow stream',
            properties: {
              logs: { type: 'string' },
              cursor: { type: 'string', description: 'resume with `after=` this' },
              offset: { type: 'integer', description: 'bytes of the whole output before `logs`' },
              gap: {
                type: 'boolean',
                description: 'an unknown part of the output was skipped before `logs`',
              },
              ended: { type: 'boolean', description: 'the last line: the kernel has ended, all was sent' },
            },
          },
        },
      },
    },
  },
  {
    method: 'get',
    path: '/session/{ref}/callbacks',
    tag: 'sessions',
    summary: 'bai extension: the callback_url deliveries and their outcome',
    description:
      'One entry per lifecycle event sent to callback_url: `delivered`, `pending` (retrying), `refused` (the address is inside the network and not on the operator allow-list; never contacted), `redirected` (a 3xx answer; redirects are never followed) or `failed` (given up after retries).',
    params: [SESSION_REF, OWNER],
    response: ok('Deliveries', list('CallbackDelivery')),
  },
  {
    method: 'get',
    path: '/session/{ref}/status-history',
    tag: 'sessions',
    summary: 'Status → time it was entered',
    params: [SESSION_REF, OWNER],
    response: ok('History', {
      type: 'object',
      properties: { result: { type: 'object', additionalProperties: { type: 'string' } } },
    }),
  },
  {
    method: 'get',
    path: '/sessions',
    tag: 'sessions',
    summary: 'List sessions with filters, pagination and sorting',
    params: [
      q('status', 'Comma-separated statuses'),
      q('type', 'batch or interactive'),
      q('tag', 'Exact tag'),
      q('name', 'Exact name'),
      q('scaling_group', 'Scaling group'),
      q('scheduleName', 'Only the sessions this schedule created (also schedule_name)'),
      q('created_after', 'ISO-8601 time'),
      q('created_before', 'ISO-8601 time'),
      q('owner_access_key', 'Admins: another keypair'),
      q('all', 'Admins: every keypair (of the domain; superadmins: all)', { type: 'boolean' }),
      q('limit', '1..1000, default 50', { type: 'integer' }),
      q('offset', 'default 0', { type: 'integer' }),
      q('order', 'created_at, name, status, priority, terminated_at; prefix - for descending'),
    ],
    response: ok('A page', {
      type: 'object',
      properties: {
        items: { type: 'array', items: ref('SessionSummary') },
        total: { type: 'integer' },
        limit: { type: 'integer' },
        offset: { type: 'integer' },
      },
    }),
  },
  {
    method: 'get',
    path: '/events/session',
    tag: 'sessions',
    summary: 'Server-sent lifecycle events',
    description:
      'One event per transition: `id: <event id>`, `event: session_enqueued|…|session_terminated|session_success|session_failure|kernel_*`, `data: {reason, sessionName, ownerAccessKey, sessionId, exitCode}`. Resume with the Last-Event-ID header (or lastEventId query).',
    params: [
      q('sessionName', 'Follow this session (or * for all of the keypair)'),
      q('sessionId', 'Follow this session by id'),
      q('ownerAccessKey', 'Admins: another keypair'),
      q('scope', 'session (default), kernel, * (both) or a comma list (session,kernel)'),
      q('lastEventId', 'Same as the Last-Event-ID header'),
    ],
    response: {
      description: 'text/event-stream',
      content: { 'text/event-stream': { schema: { type: 'string' } } },
    },
  },
];
