import { ARRAY_CANCELLED, parentMove } from '../../domain/array-spec.js';
import type { ArrayStore } from '../../persistence/array-store.js';
import type { SessionStore } from '../../persistence/session-store.js';
import type { Logger } from '../../log/logger.js';
import { QuietGate } from './quiet-gate.js';

/**
 * Makes array parents follow their children, whatever path ended the last child (report,
 * reconciler, cancel, dependency-failed…): run at the start of every dispatch pass (kicked when
 * a session ends, and by the pass's safety tick). Set-based reads; each move is a guarded
 * transition, so a pass that runs twice, or races a cancel, changes nothing more.
 */
export class ArraySettler {
  /** Whether the last read found nothing to follow, and the inserts counted since it began. */
  private readonly quiet: QuietGate;

  constructor(
    private readonly arrays: Pick<ArrayStore, 'openParents' | 'cancelPendingChildren' | 'insertions'>,
    private readonly sessions: Pick<SessionStore, 'transition'>,
    private readonly log: Logger,
    opts: { recheckMs?: number; now?: () => number } = {},
  ) {
    this.quiet = new QuietGate({ ...opts, counted: () => arrays.insertions });
  }

  /**
   * Another manager committed something (maybe an array): the next settle step reads, also when
   * this arrives while a read is under way (that read may have begun before the commit).
   */
  elsewhere(): void {
    this.quiet.wake();
  }

  /** Returns how many parents moved. */
  async settle(): Promise<number> {
    // With no parent open and none with stray children, only a new array gives this step
    // work: one inserted here since (counted when begun and when committed), or through
    // another manager (its wake-up after the commit calls `elsewhere`; should it be lost, the
    // read every `recheckMs`, 10 s by default, finds it). Not one read per pass of a drain
    // without arrays.
    if (this.quiet.resting()) return 0;
    const began = this.quiet.begin();
    this.quiet.forget();
    // One read (an idle pass costs one statement); read again only if it cancelled children.
    const read = await this.arrays.openParents();
    if (read.open.length === 0 && read.stray.length === 0) this.quiet.rest(began);
    let parents = read.open;
    // Children still PENDING under a parent that ended or is being cancelled never run.
    let cancelled = 0;
    for (const id of read.stray) {
      const n = await this.arrays.cancelPendingChildren(id, ARRAY_CANCELLED);
      if (n > 0) this.log.info('array: stray children cancelled', { parentId: id, n });
      cancelled += n;
    }
    if (cancelled > 0) parents = (await this.arrays.openParents()).open;
    let moved = 0;
    for (const p of parents) {
      const move = parentMove(p.status, p);
      if (!move) continue;
      const row =
        move.to === 'RUNNING'
          ? await this.sessions.transition(p.id, 'RUNNING', {
              from: ['PENDING'],
              set: { started_at: new Date() },
            })
          : await this.sessions.transition(p.id, 'TERMINATED', {
              from: [p.status],
              result: move.result,
              exitCode: move.exitCode,
              // As a session's own end says it; a cancelled array keeps its reason (user-requested…).
              ...(p.status === 'TERMINATING'
                ? {}
                : { info: move.result === 'SUCCESS' ? 'task-finished' : 'task-failed' }),
            });
      if (row) moved++;
    }
    return moved;
  }
}
