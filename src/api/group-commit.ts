/**
 * Natural group commit: items handed in while a commit is under way wait for it to end and then
 * go together in the next one; an item that finds nothing under way goes at once (after the
 * current turn of the event loop, so requests parsed in the same turn share it). The batch is as
 * large as what arrived during one commit — no fixed delay, so a lone item is never held back.
 *
 * When a group's commit throws, its items are committed again one by one (`single`, each its own
 * commit, started in the order they came), so each gets its own answer: the one that caused the failure gets its error, the
 * others their result. Pure logic (no I/O of its own), unit-tested in test/unit/group-commit.test.ts.
 */
export interface GroupCommitOptions<I, O> {
  /** Commits a group: one outcome per item, in the items' order. A throw sends each item to `single`. */
  commit(items: I[]): Promise<O[]>;
  /** Commits one item alone (after a failed group), its own error being its answer. */
  single(item: I): Promise<O>;
  /** Largest group (default 500). */
  maxBatch?: number;
  /** Groups committed at the same time (default 1). */
  maxInFlight?: number;
  /**
   * Items with the same key never share a group (a second one waits for the next): e.g. one
   * idempotency key, which one statement cannot claim twice. null: no key.
   */
  keyOf?(item: I): string | null;
  /** Told when a group's commit failed, before its items go one by one. */
  onGroupFailed?(err: unknown, size: number): void;
}

interface Waiting<I, O> {
  item: I;
  resolve(out: O): void;
  reject(err: unknown): void;
}

export class GroupCommit<I, O> {
  private readonly queue: Waiting<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;
  /** Sizes of the groups committed so far (count and total), for metrics and tests. */
  groups = 0;
  items = 0;

  constructor(private readonly opts: GroupCommitOptions<I, O>) {
    this.maxBatch = Math.max(1, opts.maxBatch ?? 500);
    this.maxInFlight = Math.max(1, opts.maxInFlight ?? 1);
  }

  /** Resolves with the item's outcome once its group (or, after a failed group, it alone) committed. */
  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Items waiting for a group. */
  get waiting(): number {
    return this.queue.length;
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** The next group: up to maxBatch items in arrival order, skipping those whose key is taken. */
  private take(): Waiting<I, O>[] {
    const group: Waiting<I, O>[] = [];
    const keys = new Set<string>();
    const rest: Waiting<I, O>[] = [];
    for (const w of this.queue) {
      const key = this.opts.keyOf?.(w.item) ?? null;
      if (group.length >= this.maxBatch || (key !== null && keys.has(key))) {
        rest.push(w);
        continue;
      }
      if (key !== null) keys.add(key);
      group.push(w);
    }
    this.queue.splice(0, this.queue.length, ...rest);
    return group;
  }

  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const group = this.take();
      this.inFlight += 1;
      this.groups += 1;
      this.items += group.length;
      void this.run(group).finally(() => {
        this.inFlight -= 1;
        this.schedule();
      });
    }
  }

  private async run(group: Waiting<I, O>[]): Promise<void> {
    let outcomes: O[];
    try {
      outcomes = await this.opts.commit(group.map((w) => w.item));
      if (outcomes.length !== group.length)
        throw new Error(`group commit returned ${outcomes.length} outcomes for ${group.length} items`);
    } catch (err) {
      if (group.length === 1) return group[0]!.reject(err);
      this.opts.onGroupFailed?.(err, group.length);
      // One by one (each its own commit, started in arrival order, not waiting for the others):
      // each item gets its own answer, and none waits behind the others' retries.
      await Promise.all(
        group.map((w) =>
          this.opts.single(w.item).then(
            (out) => w.resolve(out),
            (e: unknown) => w.reject(e),
          ),
        ),
      );
      return;
    }
    group.forEach((w, i) => w.resolve(outcomes[i]!));
  }
}
