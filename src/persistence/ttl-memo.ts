/**
 * A read-through memo with a time to live: `get(key, load)` runs `load` at most once per key
 * per `ttlMs` and hands every caller in that window the same promise. `load` may return any
 * thenable — a knex query builder is one, and it runs its query again on every `.then`, so the
 * memo turns it into a promise once, at the miss; remembering the builder itself would run one
 * query per caller (which the submit path's cache did until round four, docs/benchmarks.md).
 * A failed load is forgotten, so the next caller tries again. `forget` drops entries at once:
 * a caller after it loads afresh, while callers before it keep the load they shared. Pure (a
 * clock may be given), unit-tested in test/unit/ttl-memo.test.ts.
 */
export class TtlMemo {
  private readonly entries = new Map<string, { at: number; value: Promise<unknown> }>();

  constructor(
    private readonly ttlMs: number,
    private readonly opts: { maxEntries?: number; now?: () => number } = {},
  ) {}

  get<T>(key: string, load: () => PromiseLike<T>): Promise<T> {
    if (this.ttlMs <= 0) return Promise.resolve(load());
    const now = (this.opts.now ?? Date.now)();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value as Promise<T>;
    if (this.entries.size >= (this.opts.maxEntries ?? 10_000)) this.entries.clear();
    // Promise.resolve runs a thenable's `then` once: one load, whoever awaits it afterwards.
    const value = Promise.resolve(load());
    const entry = { at: now, value };
    this.entries.set(key, entry);
    // A failed load is not remembered; its callers get the error through `value`.
    value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    return value;
  }

  /** Drops one key. */
  forget(key: string): void {
    this.entries.delete(key);
  }

  /** Drops every key `match` accepts. */
  forgetWhere(match: (key: string) => boolean): void {
    for (const key of [...this.entries.keys()]) if (match(key)) this.entries.delete(key);
  }
}
