import type { Redis } from 'ioredis';
import type { Report } from '../../queue/payloads.js';
import { addReport, addReportUnlessSuperseded } from '../../queue/report-stream.js';

/**
 * The agent's side of its durable reports stream (`<prefix>:reports-<agent id>:stream`, its
 * own: the manager takes the stream's agent as the sender). Each report has an id derived from
 * what it says, so a report sent twice while the first is still unapplied is stored once; the
 * manager's handlers are idempotent for the rest. While Redis is out of reach the send waits
 * for it (the connection queues the command and re-sends it on reconnect).
 */
export class Reporter {
  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
    private readonly agentId: string,
  ) {}

  /** Sends a report: its entry id, or null when the same report id is still unapplied. */
  async send(report: Report, id: string): Promise<string | null> {
    return addReport(this.connection, this.prefix, this.agentId, report, id);
  }

  /** Sends a report about an attempt unless the manager gave that attempt up: `'superseded'` then. */
  async sendUnlessSuperseded(
    report: Report,
    id: string,
    attempt: { sessionId: string; attempt: number },
  ): Promise<string | null | 'superseded'> {
    return addReportUnlessSuperseded(this.connection, this.prefix, this.agentId, report, id, attempt);
  }

  async close(): Promise<void> {
    // Nothing of its own to close: the connection is the agent's.
  }
}
