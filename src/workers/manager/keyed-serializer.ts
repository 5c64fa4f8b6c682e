/**
 * Runs tasks with the same key one after another, in the order they were given, while tasks of
 * different keys run side by side. The report worker takes many jobs at once; an agent sends a
 * session's reports in order, and this keeps them in that order on this manager.
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    // A task's failure is its own caller's (returned as `next`): the queue behind it only waits
    // for it to settle, so neither the next task nor the tail sees it.
    const next = previous.catch(() => {}).then(task);
    const tail = next.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}
