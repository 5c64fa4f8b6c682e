/**
 * Runs `fn` at most once at a time: callers that arrive while it runs share its result. Two
 * scrapes at once (two Prometheus servers, a curl beside them) cost one read, not two.
 */
export class SingleFlight<T> {
  private running: Promise<T> | null = null;

  constructor(private readonly fn: () => Promise<T>) {}

  run(): Promise<T> {
    this.running ??= this.fn().finally(() => {
      this.running = null;
    });
    return this.running;
  }
}
