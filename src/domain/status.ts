/** Session and kernel statuses (Backend.AI's names) and the moves allowed between them. */
export const SESSION_STATUSES = [
  'PENDING',
  'SCHEDULED',
  'PREPARING',
  'PULLING',
  'PREPARED',
  'CREATING',
  'RUNNING',
  'TERMINATING',
  'TERMINATED',
  'ERROR',
  'CANCELLED',
] as const;
export type SessionStatus = (typeof SESSION_STATUSES)[number];

export type SessionResult = 'UNDEFINED' | 'SUCCESS' | 'FAILURE';

/** The statuses from `first` to `last`, both included, in SESSION_STATUSES order. */
function between(first: SessionStatus, last: SessionStatus): SessionStatus[] {
  return SESSION_STATUSES.slice(SESSION_STATUSES.indexOf(first), SESSION_STATUSES.indexOf(last) + 1);
}

export const TERMINAL_STATUSES: readonly SessionStatus[] = ['TERMINATED', 'CANCELLED'];
/** Statuses in which a session holds (or is about to hold) resources on an agent: SCHEDULED to TERMINATING. */
export const ACTIVE_STATUSES: readonly SessionStatus[] = between('SCHEDULED', 'TERMINATING');
export const LIVE_STATUSES: readonly SessionStatus[] = ['PENDING', ...ACTIVE_STATUSES, 'ERROR'];

/** PENDING to RUNNING: the order a session normally goes through. */
const HAPPY_PATH: readonly SessionStatus[] = between('PENDING', 'RUNNING');
/** Placed on an agent but not running yet (SCHEDULED to CREATING): the phases of preparation. */
export const PREPARE_STATUSES: readonly SessionStatus[] = HAPPY_PATH.slice(1, -1);

/**
 * Allowed moves. The happy path may skip forward (a cached image skips PULLING; a report that
 * arrives late or twice is harmless because no status ever goes backwards).
 */
const TRANSITIONS: Record<SessionStatus, readonly SessionStatus[]> = (() => {
  const map = {} as Record<SessionStatus, SessionStatus[]>;
  HAPPY_PATH.forEach((from, i) => {
    map[from] = [...HAPPY_PATH.slice(i + 1), 'TERMINATING', 'TERMINATED', 'ERROR'];
    if (from !== 'RUNNING') map[from].push('CANCELLED');
  });
  // A scheduled session can go back to PENDING only when its agent is lost and it is re-run.
  for (const from of HAPPY_PATH.slice(1)) map[from].push('PENDING');
  map.TERMINATING = ['TERMINATED', 'ERROR'];
  map.ERROR = ['TERMINATING', 'TERMINATED'];
  map.TERMINATED = [];
  map.CANCELLED = [];
  return map;
})();

export function isSessionStatus(value: unknown): value is SessionStatus {
  return typeof value === 'string' && (SESSION_STATUSES as readonly string[]).includes(value);
}

export function isTerminal(status: SessionStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export function canTransition(from: SessionStatus, to: SessionStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/** The statuses from which `to` may be entered: the WHERE clause of a guarded UPDATE. */
export function predecessorsOf(to: SessionStatus): SessionStatus[] {
  return SESSION_STATUSES.filter((from) => TRANSITIONS[from].includes(to));
}
