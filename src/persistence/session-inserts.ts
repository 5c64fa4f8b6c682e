import type { ArraySpec } from '../domain/array-spec.js';
import type { ResolvedDependency } from '../domain/dependency-condition.js';
import type { ArrayStore } from './array-store.js';
import type { KeyedInsert } from './idempotency-store.js';
import type { KernelRow, SessionRow } from './rows.js';
import type { SessionStore } from './session-store.js';

/**
 * A new session's rows, written on their own (`plain`) or inside the transaction that holds the
 * request's idempotency key (`insertIn`, then `committed`): a plain session, or an array's
 * parent with its children, so a keyed array is created once like any other session.
 */
export interface SessionInsert extends KeyedInsert {
  plain(): Promise<SessionRow>;
}

export function plainSessionInsert(
  sessions: SessionStore,
  session: Partial<SessionRow>,
  kernels: Partial<KernelRow>[],
  dependencies: readonly ResolvedDependency[],
): SessionInsert {
  return {
    sessionId: session.id!,
    plain: () => sessions.insert(session, kernels, dependencies),
    insertIn: (trx) => sessions.insertIn(trx, session, kernels, dependencies),
    committed: () => sessions.notifyCommitted(),
  };
}

export function arrayInsert(
  arrays: ArrayStore,
  sessions: SessionStore,
  parent: Partial<SessionRow>,
  kernels: Partial<KernelRow>[],
  dependencies: readonly ResolvedDependency[],
  spec: ArraySpec,
): SessionInsert {
  return {
    sessionId: parent.id!,
    plain: () => arrays.insert(parent, kernels, dependencies, spec),
    insertIn: (trx) => arrays.insertIn(trx, parent, kernels, dependencies, spec),
    committed: () => {
      arrays.noteCommitted();
      sessions.notifyCommitted();
    },
  };
}
