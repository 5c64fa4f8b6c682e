/**
 * Typed errors with stable codes. A code is never renamed or reused; the HTTP boundary maps
 * them to Backend.AI's problem+json slugs, the CLI to exit codes, workers to retry decisions.
 */
export interface ErrorOptions {
  data?: unknown;
  cause?: unknown;
}

export class BaiError extends Error {
  /** Stable machine code (also the problem+json slug for API errors). */
  readonly code: string;
  readonly status: number;
  readonly title: string;
  readonly data: unknown;

  constructor(code: string, status: number, title: string, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.title = title;
    this.data = opts.data;
  }
}

export class InvalidRequest extends BaiError {
  constructor(message: string, opts?: ErrorOptions) {
    super('generic-bad-request', 400, 'Invalid or Missing API Parameters.', message, opts);
  }
}

export class SessionAlreadyExists extends BaiError {
  constructor(existingSessionId: string) {
    super(
      'session-already-exists',
      400,
      'The session already exists.',
      'A live session of that name exists.',
      {
        data: { existingSessionId },
      },
    );
  }
}

export class QuotaExceeded extends BaiError {
  constructor(message: string, opts?: ErrorOptions) {
    super('quota-exceeded', 400, 'Quota exceeded.', message, opts);
  }
}

export class InvalidAuthParams extends BaiError {
  constructor(message: string) {
    super('invalid-auth-params', 400, 'Missing or invalid authorization parameters.', message);
  }
}

export class AuthFailed extends BaiError {
  constructor(message: string) {
    super('auth-failed', 401, 'Credential/signature mismatch.', message);
  }
}

export class Forbidden extends BaiError {
  constructor(message: string) {
    super('generic-forbidden', 403, 'Forbidden operation.', message);
  }
}

export class InsufficientPrivilege extends BaiError {
  constructor(message: string) {
    super('insufficient-privilege', 403, 'Insufficient privilege.', message);
  }
}

export class ObjectNotFound extends BaiError {
  constructor(message: string, what = 'object') {
    super('object-not-found', 404, `No such ${what}.`, message);
  }
}

export class SessionNotFound extends ObjectNotFound {
  constructor(ref: string) {
    super(`No session matches "${ref}".`, 'session');
  }
}

export class TooManySessionsMatched extends BaiError {
  constructor(matches: { id: string; name: string }[]) {
    super(
      'too-many-sessions-matched',
      404,
      'Too many sessions matched.',
      'The reference matches several sessions.',
      {
        data: { matches },
      },
    );
  }
}

export class Conflict extends BaiError {
  constructor(message: string, opts?: ErrorOptions) {
    super('conflict', 409, 'Conflict.', message, opts);
  }
}

/**
 * 422: an idempotency key of `POST /session` came again with another request; `data.sessionId`
 * is the session the first request with it created.
 */
export class IdempotencyKeyConflict extends BaiError {
  constructor(key: string, sessionId: string) {
    super(
      'idempotency-key-conflict',
      422,
      'The idempotency key was used with another request.',
      `The idempotency key "${key}" was used with a different request (it created session ${sessionId}); send the same request again, or use a new key for a new request.`,
      { data: { sessionId, idempotencyKey: key } },
    );
  }
}

export class PayloadTooLarge extends BaiError {
  constructor(limit: number) {
    super('payload-too-large', 413, 'Request body too large.', `The body exceeds ${limit} bytes.`);
  }
}

export class RateLimited extends BaiError {
  constructor(message: string) {
    super('too-many-requests', 429, 'Too many requests.', message);
  }
}

/**
 * PostgreSQL cannot be reached (down, restarting, refusing connections): nothing was done, and
 * the same request may succeed in a moment. Answered 503 with Retry-After.
 */
export class DatabaseUnavailable extends BaiError {
  /** Seconds a client should wait before trying again. */
  static readonly RETRY_AFTER_SECONDS = 2;

  constructor(opts?: ErrorOptions) {
    super(
      'database-unavailable',
      503,
      'Database unavailable.',
      'The manager cannot reach its database; nothing was done. Try again shortly.',
      opts,
    );
  }
}

export class InternalError extends BaiError {
  constructor(message = 'Something went wrong on the server.', opts?: ErrorOptions) {
    super('internal-server-error', 500, 'Internal server error.', message, opts);
  }
}

/**
 * An image's resource label (`ai.backend.resource.min.mem` …) cannot be read: the image was
 * registered with a bad value. Sessions of that image are refused, naming the label, until an
 * admin fixes it — rather than run without the limit the label meant to set.
 */
export class InvalidImageLabel extends BaiError {
  constructor(image: string, label: string, value: string, detail: string) {
    super(
      'invalid-image-label',
      400,
      'The image has an invalid label.',
      `The image "${image}" has an invalid label: ${detail} Ask an admin to fix the image's labels.`,
      { data: { image, label, value } },
    );
  }
}

/** A job addressed to an agent PostgreSQL does not know (removed, or never registered). */
export class UnknownAgent extends ObjectNotFound {
  constructor(agentId: string) {
    super(`No agent "${agentId}" is registered.`, 'agent');
  }
}

/** 400: a schedule's body is wrong (`data.field` names the field: cron, timezone, concurrencyPolicy…). */
export class InvalidSchedule extends BaiError {
  constructor(field: string, message: string) {
    super('invalid-schedule', 400, 'Invalid schedule.', message, { data: { field } });
  }
}

/** 409: the keypair has a schedule of that name. */
export class ScheduleExists extends BaiError {
  constructor(name: string) {
    super('schedule-exists', 409, 'The schedule already exists.', `A schedule named "${name}" exists.`);
  }
}

/** 404: no schedule of that name that the caller may see. */
export class ScheduleNotFound extends BaiError {
  constructor(name: string) {
    super('schedule-not-found', 404, 'No such schedule.', `No schedule named "${name}".`);
  }
}
