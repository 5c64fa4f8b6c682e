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

/** The result event that follows session_terminated for a batch session. */
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

export type EventScope = 'session' | 'kernel' | '*';

export function eventInScope(eventName: string, scope: EventScope): boolean {
  if (scope === '*') return true;
  return eventName.startsWith(`${scope}_`);
}
