import { capacityPredicate, type Predicate } from '../../domain/predicates.js';
import type { RunnableScan } from '../../persistence/runnable-scan.js';

/** Starts the runnable scan of a group, its sessions beyond the page to be told `waiting`. */
export type StartScan = (group: string, waiting: readonly Predicate[]) => Promise<RunnableScan>;

/**
 * The runnable scans a dispatch pass starts beside its survey rather than after it: a pass was
 * four round trips in a row (survey, scan, placement, the run job's add), and the scan of a
 * group does not depend on what the survey reads or does. The survey writes the predicates of
 * sessions the scan leaves out (a later starts_at, a retry backoff, a dependency not met:
 * disjoint rows), and the sessions it cancels (a broken dependency, a start deadline passed)
 * are ones the scan leaves out as well, at the same instant. So a scan started beside it reads
 * what a scan started after it would. (One difference: a dependency that ends between the two
 * statements' snapshots can leave its dependent's predicate as the older one said, until the
 * next pass, which that end kicks, writes it again. Placement is decided by the scan alone.)
 *
 * Only groups where the pass is likely to find sessions to place are scanned early: those a
 * submit on this manager named since the last pass began (`expect`), and those the last pass
 * left sessions in that wait for capacity only. A scan that no group of the survey takes (the
 * group has no PENDING session left) cost one statement on its own connection, beside the
 * survey.
 *
 * A scan is used as it came only when its `waiting` predicate is the one the survey's agents
 * call for (no agent in the group, or no room) and no placement of the same pass committed
 * before it is taken: a placement in one group uses up keypairs' room that a scan of another
 * group, begun before it, did not see. Otherwise the group is scanned again, as before.
 */
export class EarlyScans {
  /** The groups the next pass scans early. */
  private readonly expected = new Set<string>();
  /** Each group's count of schedulable agents, as the last survey read it. */
  private readonly agents = new Map<string, number>();
  private readonly started = new Map<string, { waiting: string; scan: Promise<RunnableScan | null> }>();
  /** A placement committed since the scans started: those not taken yet are stale. */
  private stale = false;

  /** The next pass is likely to find sessions that can run in `group`. */
  expect(group: string): void {
    this.expected.add(group);
  }

  /** Starts a scan for each group expected since the last call (then expected no more). */
  start(scan: StartScan): void {
    for (const group of this.expected) {
      const waiting = [capacityPredicate(this.agents.get(group) ?? 1)];
      // A scan that fails is done again when its group is reached, and fails there in the open.
      this.started.set(group, { waiting: waiting[0]!.msg, scan: scan(group, waiting).catch(() => null) });
    }
    this.expected.clear();
    this.stale = false;
  }

  /** A placement of the pass committed: the scans not taken yet did not see the room it used. */
  placed(): void {
    this.stale = true;
  }

  /**
   * The early scan of `group` (each is taken once), when one was started with `waiting`, it
   * succeeded, and no placement committed since it started (`placed`); else null: scan again.
   * `agents`: the group's schedulable agents as the survey read them, for the next guess.
   * `joined`: the survey put sessions in the group's queue (dependents it found met, sessions
   * come due), which a scan begun beside it did not see.
   */
  async take(
    group: string,
    agents: number,
    waiting: readonly Predicate[],
    joined = false,
  ): Promise<RunnableScan | null> {
    this.agents.set(group, agents);
    const early = this.started.get(group);
    if (!early) return null;
    this.started.delete(group);
    const scan = await early.scan;
    return !this.stale && !joined && early.waiting === waiting[0]?.msg ? scan : null;
  }

  /** Waits for the scans no group took, so that none outlives its pass. */
  async settle(): Promise<void> {
    const left = [...this.started.values()];
    this.started.clear();
    await Promise.all(left.map((s) => s.scan));
  }
}
