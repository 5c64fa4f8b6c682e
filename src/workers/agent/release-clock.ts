import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { Logger } from '../../log/logger.js';
import {
  ARMED,
  CANCELLED,
  type ClockMessage,
  type ClockReply,
  type FiredMessage,
} from './release-clock-wire.js';

/** With nothing armed this long, the clock's thread is stopped (started again when needed). */
const IDLE_STOP_MS = 30_000;

/** What became of an armed release: fired by the clock, cancelled, or lost with its thread. */
export type ReleaseOutcome =
  | FiredMessage
  | { type: 'cancelled' }
  /** The thread died before firing it: the main loop releases it. */
  | { type: 'lost' }
  /** The thread died after taking it to fire: how far it got is for the barrier to say. */
  | { type: 'lost-fired' };

/** One release armed in the clock. */
export interface ArmedHandle {
  /** The attempt was not superseded when asked at `askedAt` (epoch ms): the clock may fire. */
  permit(askedAt: number): void;
  /**
   * Cancels it unless the clock fired it already: true when it will never fire. Safe against
   * the clock's thread: both sides exchange one shared word, exactly one wins.
   */
  cancel(): boolean;
  /** Still armed (neither fired nor cancelled). */
  readonly armed: boolean;
  /** Resolves once it fired, was cancelled, or its thread died (never rejects). */
  readonly outcome: Promise<ReleaseOutcome>;
}

interface Pending {
  state: Int32Array;
  settle: (o: ReleaseOutcome) => void;
}

/**
 * The agent's release clock: a worker thread (release-clock-worker.ts) that fires start-barrier
 * releases at their instant whatever the main event loop is doing (src/domain/release-timing.ts
 * says how). Started on the first release armed, stopped when idle and on close.
 */
export class ReleaseClock {
  private worker: Worker | null = null;
  private port: MessagePort | null = null;
  private bell: Int32Array | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(private readonly log: Logger) {}

  arm(at: number, fifos: string[], releasedAtFile: string): ArmedHandle {
    const state = new Int32Array(new SharedArrayBuffer(4));
    const id = this.nextId++;
    let settle!: (o: ReleaseOutcome) => void;
    const outcome = new Promise<ReleaseOutcome>((ok) => (settle = ok));
    if (this.closed) {
      Atomics.store(state, 0, CANCELLED);
      settle({ type: 'cancelled' });
    } else {
      this.pending.set(id, { state, settle });
      this.send({ type: 'arm', id, at, fifos, releasedAtFile, state });
    }
    const cancel = (): boolean => {
      const was = Atomics.compareExchange(state, 0, ARMED, CANCELLED);
      if (was !== ARMED) return was === CANCELLED;
      this.settle(id, { type: 'cancelled' });
      this.send({ type: 'drop', id });
      return true;
    };
    return {
      permit: (askedAt) => {
        if (Atomics.load(state, 0) === ARMED) this.send({ type: 'permit', id, permittedAt: askedAt });
      },
      cancel,
      get armed() {
        return Atomics.load(state, 0) === ARMED;
      },
      outcome,
    };
  }

  /** Cancels what is still armed and stops the thread. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [id, p] of this.pending)
      if (Atomics.compareExchange(p.state, 0, ARMED, CANCELLED) === ARMED)
        this.settle(id, { type: 'cancelled' });
    await this.stop();
  }

  private send(msg: ClockMessage): void {
    if (!this.port) this.start();
    this.port!.postMessage(msg);
    Atomics.add(this.bell!, 0, 1);
    Atomics.notify(this.bell!, 0);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private start(): void {
    const { port1, port2 } = new MessageChannel();
    this.bell = new Int32Array(new SharedArrayBuffer(4));
    this.port = port1;
    const worker = new Worker(new URL('./release-clock-worker.js', import.meta.url), {
      workerData: { port: port2, bell: this.bell },
      transferList: [port2],
      resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
      stdout: false,
      stderr: false,
    });
    this.worker = worker;
    port1.on('message', (m: ClockReply) => {
      if (m.type === 'ready') this.log.info('release clock started', { raisedPriority: m.raised });
      else this.settle(m.id, m);
    });
    port1.unref();
    worker.unref();
    worker.on('error', (err) => this.log.error('release clock failed', { err: String(err) }));
    worker.on('exit', () => {
      if (this.worker !== worker) return;
      this.worker = null;
      this.port = null;
      port1.close();
      // Its releases: those it never took are the main loop's again; one it took but did not
      // report may have run its command or not.
      for (const [id, p] of this.pending) {
        const was = Atomics.compareExchange(p.state, 0, ARMED, CANCELLED);
        this.settle(id, { type: was === ARMED ? 'lost' : 'lost-fired' });
      }
    });
  }

  private settle(id: number, o: ReleaseOutcome): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    p.settle(o);
    if (this.pending.size === 0 && this.worker && !this.idleTimer) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = null;
        if (this.pending.size === 0) void this.stop();
      }, IDLE_STOP_MS);
      this.idleTimer.unref();
    }
  }

  private async stop(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    const worker = this.worker;
    if (!worker) return;
    this.port?.postMessage({ type: 'stop' } satisfies ClockMessage);
    Atomics.add(this.bell!, 0, 1);
    Atomics.notify(this.bell!, 0);
    this.worker = null;
    this.port?.close();
    this.port = null;
    await worker.terminate();
  }
}
