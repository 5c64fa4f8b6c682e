/** One container event of the engine's event stream, as the agent uses it. */
export interface EngineEvent {
  action: string;
  id: string;
  labels: Record<string, string>;
}

/**
 * Splits the engine's event stream (one JSON object a line, arriving in arbitrary chunks) into
 * events: `push` takes a chunk and calls `onEvent` for each whole line it completes.
 */
export class EventLines {
  private buf = '';

  constructor(private readonly onEvent: (ev: EngineEvent) => void) {}

  push(chunk: string): void {
    this.buf += chunk;
    let i: number;
    while ((i = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (!line) continue;
      try {
        const ev = JSON.parse(line) as {
          Action?: string;
          id?: string;
          Actor?: { ID?: string; Attributes?: Record<string, string> };
        };
        this.onEvent({
          action: ev.Action ?? '',
          id: ev.Actor?.ID ?? ev.id ?? '',
          labels: ev.Actor?.Attributes ?? {},
        });
      } catch {
        /* not an event line */
      }
    }
  }
}
