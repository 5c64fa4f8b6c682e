import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from './logger.js';

/** The HTTP request being served: its id and its logger (set by request-context.ts). */
export interface RequestScope {
  requestId: string;
  log: Logger;
}

const scope = new AsyncLocalStorage<RequestScope>();

/** Runs `fn` as part of the request `s`: services below it find its id without a parameter. */
export function inRequest<T>(s: RequestScope, fn: () => T): T {
  return scope.run(s, fn);
}

/** The request this code serves, if it serves one (a create stores its id on the session). */
export function currentRequest(): RequestScope | undefined {
  return scope.getStore();
}
