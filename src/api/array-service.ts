import { ARRAY_CANCELLED, type ArraySpec } from '../domain/array-spec.js';
import type { ArrayStore } from '../persistence/array-store.js';
import { arrayInsert, type SessionInsert } from '../persistence/session-inserts.js';
import type { ResolvedDependency } from '../domain/dependency-condition.js';
import type { KernelRow, SessionRow } from '../persistence/rows.js';
import type { SessionStore } from '../persistence/session-store.js';

/** Statuses of a parent that is not over (it is never placed: no status between). */
const OPEN = ['PENDING', 'RUNNING', 'TERMINATING'] as const;

/** Creating and cancelling array jobs (the parent and its children); see array-store.ts. */
export class ArrayService {
  constructor(
    private readonly arrays: ArrayStore,
    private readonly sessions: SessionStore,
    private readonly kick: () => void,
  ) {}

  /** The rows of a new array: its parent and children (array-store.ts), keyed or not. */
  inserter(
    parent: Partial<SessionRow>,
    kernelTemplate: Partial<KernelRow>[],
    dependencies: readonly ResolvedDependency[],
    spec: ArraySpec,
  ): SessionInsert {
    return arrayInsert(this.arrays, this.sessions, parent, kernelTemplate, dependencies, spec);
  }

  /**
   * Cancels an array: in one transaction, the parent moves (CANCELLED when no child was ever
   * placed, else TERMINATING until its children ended: the settle step ends it) and every
   * PENDING child is cancelled set-based; then each child placed and not over goes the normal
   * destroy path (`destroyChild`). A parent already over is returned as it is.
   */
  async cancel(
    parent: SessionRow,
    forced: boolean,
    destroyChild: (child: SessionRow) => Promise<SessionRow>,
  ): Promise<SessionRow> {
    if (!(OPEN as readonly string[]).includes(parent.status)) return parent;
    const info = forced ? 'force-terminated' : 'user-requested';
    const moved = await this.sessions.inTransaction(async (trx) => {
      const locked = await this.sessions.lockIn(trx, parent.id);
      if (!locked || !(OPEN as readonly string[]).includes(locked.status)) return null;
      let row: SessionRow | null = locked;
      if (locked.status !== 'TERMINATING') {
        const placed = locked.status === 'RUNNING' || (await this.arrays.hasActiveChildren(trx, parent.id));
        row = placed
          ? await this.sessions.transitionIn(trx, parent.id, 'TERMINATING', { from: [locked.status], info })
          : await this.sessions.transitionIn(trx, parent.id, 'CANCELLED', {
              from: ['PENDING'],
              info,
              result: 'FAILURE',
            });
      }
      await this.arrays.cancelPendingChildrenIn(trx, parent.id, ARRAY_CANCELLED);
      return row;
    });
    for (const child of await this.arrays.activeChildren(parent.id)) await destroyChild(child);
    this.kick();
    return moved ?? (await this.sessions.get(parent.id)) ?? parent;
  }
}
