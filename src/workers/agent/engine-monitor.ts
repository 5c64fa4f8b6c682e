import type { DockerAdapter } from '../../docker/docker-adapter.js';
import { LABEL } from '../../domain/container-plan.js';
import type { Logger } from '../../log/logger.js';

export interface EngineMonitorHooks {
  /** The engine stopped answering (or its event stream broke): cut what hangs on it. */
  onDown(): void;
  /** The engine answers again (events re-opened first): re-read the containers. */
  onUp(): Promise<void>;
  /** A container of this agent died (from the event stream). */
  onDie(containerId: string): void;
}

/**
 * Watches the agent's Docker engine: a ping every `intervalMs` and a container event stream
 * filtered on the agent's label. A failed ping or a broken stream marks the engine away; the
 * first ping that answers afterwards re-opens the stream and calls `onUp`. Docker's wait and
 * log connections do not always fail when dockerd dies (docker-modem leaves a response cut
 * mid-body pending), so the agent relies on this, not on them, to know the engine restarted.
 */
export class EngineMonitor {
  private up = true;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;
  private stopEvents: (() => void) | null = null;
  private waiters: (() => void)[] = [];
  private closed = false;

  constructor(
    private readonly docker: DockerAdapter,
    private readonly agentId: string,
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly hooks: EngineMonitorHooks,
  ) {}

  async start(): Promise<void> {
    await this.openEvents();
    if (this.closed) return; // closed while the event stream was being opened
    this.timer = setInterval(() => void this.check(), this.intervalMs);
  }

  get isUp(): boolean {
    return this.up;
  }

  /** Resolves when the engine answers (at once if it does), or when the monitor closes. */
  whenUp(): Promise<void> {
    if (this.up || this.closed) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  /** Something failed on the engine: look now rather than at the next tick. */
  suspect(): void {
    void this.check();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.stopEvents?.();
    this.stopEvents = null;
    this.release();
  }

  private check(): Promise<void> {
    this.checking ??= this.checkOnce().finally(() => (this.checking = null));
    return this.checking;
  }

  private async checkOnce(): Promise<void> {
    if (this.closed) return;
    try {
      await this.docker.ping(Math.max(10_000, this.intervalMs * 4));
      if (this.closed) return; // closed during the ping: open nothing more
      if (this.up && this.stopEvents) return;
      await this.openEvents();
    } catch (err) {
      this.markDown(String(err));
      return;
    }
    if (this.closed) return;
    if (!this.up) {
      this.log.info('docker engine answers again', { agentId: this.agentId });
      try {
        await this.hooks.onUp();
      } catch (err) {
        // Not re-read: stay "away" so the next tick tries again.
        this.log.error('re-reading containers failed', { err: String(err) });
        this.stopEvents?.();
        this.stopEvents = null;
        return;
      }
      this.up = true;
    }
    this.release();
  }

  private markDown(why: string): void {
    this.stopEvents?.();
    this.stopEvents = null;
    if (!this.up || this.closed) return;
    this.up = false;
    this.log.error('docker engine unavailable', { agentId: this.agentId, why });
    this.hooks.onDown();
  }

  private release(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async openEvents(): Promise<void> {
    this.stopEvents?.();
    const stop = await this.docker.events(
      [`${LABEL.agent}=${this.agentId}`],
      ['die'], // the only action read here
      (ev) => {
        if (ev.action === 'die') this.hooks.onDie(ev.id);
      },
      () => {
        this.stopEvents = null;
        if (this.closed) return;
        this.markDown('event stream ended');
        void this.check();
      },
    );
    // Closed while the stream was being opened: a stream left open would keep the process alive.
    if (this.closed) stop();
    else this.stopEvents = stop;
  }
}
