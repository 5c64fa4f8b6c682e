import type { Logger } from './logger.js';

/**
 * The HTTP request being served: its id and its logger (made by request-context.ts, passed by
 * the routes to the services that record or log it). Passed as a value, not held in an
 * AsyncLocalStorage: a store makes node run a hook on every promise of the process, the
 * manager's database and Redis calls included, for the two places that read it.
 */
export interface RequestScope {
  requestId: string;
  log: Logger;
}
