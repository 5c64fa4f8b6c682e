import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What the trim asks of the agent: sessions live now, and how many it has taken on so far. */
export interface AgentActivity {
  live: number;
  taken: number;
}

/**
 * Gives an agent's garbage back once it has gone idle. A burst of sessions grows V8's old space,
 * and V8 gives the pages back only when its memory reducer gets round to it: an agent that stood
 * still after a burst kept 72–81 MB of RSS across runs against its 80 MB target
 * (docs/benchmarks.md, round twenty-seven). One full collection once a check finds no session
 * live and none taken on since the check before (a whole quiet interval after the last), and
 * not again until a session comes: an idle agent does no more work than before.
 */
export class IdleTrim {
  private seen = 0;
  private owed = false;
  private made = 0;

  constructor(
    private readonly activity: () => AgentActivity,
    private readonly collect: () => void,
  ) {}

  /** Collections made so far. */
  get collections(): number {
    return this.made;
  }

  /** One check (every interval); true when it collected. */
  check(): boolean {
    const a = this.activity();
    const quiet = a.live === 0 && a.taken === this.seen;
    this.seen = a.taken;
    if (!quiet) {
      this.owed = true;
      return false;
    }
    if (!this.owed) return false;
    this.owed = false;
    this.made++;
    this.collect();
    return true;
  }
}

/**
 * V8's full collection: `gc` of a context made after `--expose-gc` was set (the process's own
 * context was made without it). A context is made for each call and left to the next
 * collection, so an agent that never goes idle after sessions holds no second context (it would
 * weigh on its fresh idle RSS). Returns the heap in use just before and after the collection
 * (bytes; the context made for it counted in both).
 */
export function fullCollection(): { before: number; after: number } {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') throw new Error('this V8 gives no gc function');
  const before = process.memoryUsage().heapUsed;
  (gc as () => void)();
  return { before, after: process.memoryUsage().heapUsed };
}
