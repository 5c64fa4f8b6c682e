/** What the agent's main thread and its release clock's thread say to each other. */

/** A release's shared state word: armed, cancelled by the main loop, or fired by the clock. */
export const ARMED = 0;
export const CANCELLED = 1;
export const FIRED = 2;

export type ClockMessage =
  | {
      type: 'arm';
      id: number;
      at: number;
      /** Subs' FIFOs first, the main's last (the order the timed start starts them). */
      fifos: string[];
      releasedAtFile: string;
      /** One Int32 on a SharedArrayBuffer: ARMED until one side exchanges it. */
      state: Int32Array;
    }
  | { type: 'permit'; id: number; permittedAt: number }
  | { type: 'drop'; id: number }
  | { type: 'stop' };

/** The clock released one: `written` FIFOs of the list; `error` (a code) stopped it there. */
export interface FiredMessage {
  type: 'fired';
  id: number;
  releasedAt: number;
  wroteAt: number;
  written: number;
  error: string | null;
}

export type ClockReply = FiredMessage | { type: 'ready'; raised: boolean };
