import type { SessionEventRow } from './rows.js';

/** Tells other parts (SSE tailers, webhook sender) that events were committed. */
export interface EventsNotifier {
  /** `events`: those the commit wrote, when its statement returned them (SessionStore.alone). */
  eventsCommitted(events?: readonly SessionEventRow[]): void;
  /** Whether a statement should return the events it writes (someone listens to them now). */
  wantsEvents?(): boolean;
  /**
   * Events of a session with a callback_url queued webhook deliveries (told before the commit
   * in a caller's transaction, after it for a statement on its own).
   */
  callbacksQueued?(): void;
}
