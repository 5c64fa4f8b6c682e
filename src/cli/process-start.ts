import type { Logger } from '../log/logger.js';

/**
 * Starts a long-running process's parts (`bai manager`, `bai agent`). A failure is logged and
 * ends the process at once, exit 1: what the start had opened before it failed (a database
 * pool, Redis connections, the embedded PostgreSQL) would otherwise keep the process running,
 * silent, and whoever waits for its ready line (`bai up`) would wait for nothing.
 */
export async function startOrExit<T>(log: Logger, what: string, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    log.error(`${what} could not start`, { err: String((err as Error)?.message ?? err) });
    process.exit(1);
  }
}
