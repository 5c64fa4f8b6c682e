import type { ApiClient } from './client.js';

interface LogsAnswer {
  result: { logs: string; cursor?: string; more?: boolean; ended?: boolean };
}

/**
 * Prints a session's output as it comes, each byte once. While the job runs it reads the
 * agent's copy by cursor (`/logs?after=`), so a chunk is never printed twice and the capped
 * stream dropping old entries loses nothing already read. When the job has ended, the stored
 * output is the reference: whatever it has past what was printed (a chunk that never reached
 * the live copy) is printed then; a session that ended before anything was read prints it whole.
 */
export class LogFollower {
  private cursor = '0';
  private printed = '';
  private busy: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: ApiClient,
    private readonly sessionId: string,
    private readonly write: (text: string) => void,
    private readonly query: Record<string, string | undefined> = {},
  ) {}

  /** Prints what was copied since the last call. Calls never overlap. */
  poll(): Promise<void> {
    this.busy = this.busy.then(() => this.readNew()).catch(() => {});
    return this.busy;
  }

  private async readNew(): Promise<void> {
    for (;;) {
      const r = await this.client.request<LogsAnswer>('GET', `/session/${this.sessionId}/logs`, undefined, {
        ...this.query,
        after: this.cursor,
      });
      if (r.result.cursor === undefined) return; // a server without incremental reads
      if (r.result.logs) {
        this.write(r.result.logs);
        this.printed += r.result.logs;
      }
      this.cursor = r.result.cursor;
      if (!r.result.more) return;
    }
  }

  /** After the session ended: the last live chunks, then what only the stored output has. */
  async finish(): Promise<void> {
    await this.poll();
    const r = await this.client.request<LogsAnswer>(
      'GET',
      `/session/${this.sessionId}/logs`,
      undefined,
      this.query,
    );
    const final = r.result.logs ?? '';
    if (final.startsWith(this.printed)) {
      const rest = final.slice(this.printed.length);
      if (rest) this.write(rest);
      this.printed = final;
    }
    // Otherwise the stored output was truncated to its tail: what was printed live is complete.
  }

  get text(): string {
    return this.printed;
  }
}
