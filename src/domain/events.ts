import { InvalidRequest } from './errors.js';
import type { SessionResult, SessionStatus } from './status.js';

/** Backend.AI's session event names, keyed by the status they announce. */
const SESSION_EVENT_OF: Partial<Record<SessionStatus, string>> = {
  PENDING: 'session_enqueued',
  SCHEDULED: 'session_scheduled',
  PREPARING: 'session_preparing',
  PULLING: 'session_pulling',
  PREPARED: 'session_prepared',
  CREATING: 'session_creating',
  RUNNING: 'session_started',
  TERMINATING: 'session_terminating',
  TERMINATED: 'session_terminated',
  CANCELLED: 'session_cancelled',
  ERROR: 'session_failure',
};

const KERNEL_EVENT_OF: Partial<Record<SessionStatus, string>> = {
  PREPARING: 'kernel_preparing',
  PULLING: 'kernel_pulling',
  CREATING: 'kernel_creating',
  RUNNING: 'kernel_started',
  TERMINATING: 'kernel_terminating',
  TERMINATED: 'kernel_terminated',
  CANCELLED: 'kernel_cancelled',
};

export function sessionEventName(status: SessionStatus): string | undefined {
  return SESSION_EVENT_OF[status];
}

export function kernelEventName(status: SessionStatus): string | undefined {
  return KERNEL_EVENT_OF[status];
}

/** The result event that precedes session_terminated for a batch session (Backend.AI's order). */
export function resultEventName(result: SessionResult): string | undefined {
  if (result === 'SUCCESS') return 'session_success';
  if (result === 'FAILURE') return 'session_failure';
  return undefined;
}

/** callback_url event names (Backend.AI's `session_lifecycle` webhook). */
export function callbackEventOf(eventName: string): string | undefined {
  const map: Record<string, string> = {
    session_enqueued: 'enqueued',
    session_started: 'started',
    session_cancelled: 'cancelled',
    session_terminating: 'terminating',
    session_terminated: 'terminated',
    session_success: 'success',
    session_failure: 'failure',
  };
  return map[eventName];
}

/** The event families a stream carries (`session_*`, `kernel_*`). */
export type EventFamily = 'session' | 'kernel';
export type EventScope = ReadonlySet<EventFamily>;

const FAMILIES: readonly EventFamily[] = ['session', 'kernel'];

/**
 * `scope` of `GET /events/session` as Backend.AI reads it: `*` for every family (the default of
 * the 22.03 and 23.09 CLIs), or one family or a comma list of them (`session,kernel`, the newer
 * CLI's `watch` default). Absent: `session` (bai's default). Anything else is a 400 that
 * quotes the value.
 */
export function parseEventScope(value: string | undefined): EventScope {
  if (value === undefined) return new Set(['session']);
  if (value === '*') return new Set(FAMILIES);
  const items = value.split(',').map((i) => i.trim());
  if (items.every((i): i is EventFamily => (FAMILIES as readonly string[]).includes(i)))
    return new Set(items);
  const shown = JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  throw new InvalidRequest(
    `scope must be session, kernel, * or a comma list of session and kernel; got ${shown}.`,
    { data: { field: 'scope' } },
  );
}

export function eventInScope(eventName: string, scope: EventScope): boolean {
  const family = eventName.slice(0, eventName.indexOf('_'));
  return scope.has(family as EventFamily);
}
