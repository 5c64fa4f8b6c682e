/**
 * A periodic task that never overlaps itself and stops cleanly: close() waits for a pass under
 * way to finish. A tick during a pass is dropped; a kick during a pass causes one more after it.
 * `wanted`, when given, is asked at each tick (not at a kick): false skips the tick without
 * starting a pass (no promise, no task call), for loops whose idle ticks mostly have nothing to do.
 */
export class Loop {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private again = false;

  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
    private readonly wanted?: () => boolean,
  ) {}

  start(runNow = true): void {
    if (this.stopped || this.timer) return;
    this.timer = setInterval(() => {
      if (!this.wanted || this.wanted()) this.trigger();
    }, this.intervalMs);
    if (runNow) this.trigger();
  }

  trigger(): void {
    if (this.stopped || this.running) return;
    this.running = this.task()
      .catch(this.onError)
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.trigger();
        }
      });
  }

  /** Asks for a pass soon: now if none is under way, else one more after it (kicks coalesce). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.trigger();
  }

  /** Stops the interval and waits for a pass under way; nothing is armed after this. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
