import type { Redis } from 'ioredis';
import { reportsBacklog } from './report-stream.js';

/**
 * What each agent's reports stream holds unapplied, for `GET /metrics` (read at scrape, over the
 * manager's own connection): `wait` unread, `active` read and being applied, `failed` read more
 * than once (a handler failed or its manager died) and waiting to be tried again.
 */
export class ReportsBacklog {
  constructor(
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {}

  async counts(agentIds: string[]): Promise<Map<string, Record<string, number>>> {
    const out = new Map<string, Record<string, number>>();
    await Promise.all(
      agentIds.map(async (id) => {
        out.set(id, await reportsBacklog(this.connection, this.prefix, id));
      }),
    );
    return out;
  }

  async close(): Promise<void> {
    // Nothing of its own: the connection is the manager's.
  }
}
