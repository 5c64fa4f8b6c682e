import type { ProgressStatus } from '../../queue/payloads.js';
import { clearLongTimeout, type LongTimeout } from '../long-timer.js';
import type { LogCopier } from './log-copier.js';

/** What the agent knows of one session it holds containers for. */
export interface Tracked {
  sessionId: string;
  attempt: number;
  containers: { kernelId: string; containerId: string; role: 'main' | 'sub' }[];
  network: string | null;
  /**
   * The session has one kernel (known from its run job), so it never had a cluster network: its
   * cleanup asks for none to be removed. Unknown (adopted) sessions leave it unset.
   */
  singleKernel?: boolean;
  /**
   * The engine had no container of the session (any attempt, any agent) when this agent began
   * its run (listed then, or, for a job not listed, its create found the name free: see
   * listsAtConflict), and has not been away since: its containers are the ones listed here,
   * and its cleanup removes them without listing the engine's. Unset for adopted sessions.
   */
  sole?: boolean;
  state: 'preparing' | 'created' | 'running' | 'exited';
  startTimer: LongTimeout | null;
  timeoutTimer: LongTimeout | null;
  batchTimeoutSec: number | null;
  timedOut: boolean;
  stopReason: string | null;
  /**
   * A kill or stop asked (timeout, destroy) that has not reached the engine yet: applied when
   * the engine answers again.
   */
  pendingStop: 'kill' | 'stop' | null;
  /** Cuts the current Docker wait (engine gone, or re-read after its return): see cutWait. */
  waitAbort: AbortController | null;
  /** Cuts the wait if it has not answered soon after the engine said the main died. */
  diedTimer?: NodeJS.Timeout | null;
  stopLogs: (() => void) | null;
  /** The live copy of the main's output, while it runs. */
  copier: LogCopier | null;
  /** X-Request-Id of the request that created the session (its log lines carry it). */
  requestId?: string | null;
  /** Quick phases entered but not yet reported: they go with the next report. */
  phases: { status: ProgressStatus; at: number }[];
  /**
   * Its containers were created behind a start barrier (start-barrier.ts): started ahead, the
   * command held until `releasedAt`, the instant the agent let it run (its `started_at`).
   */
  barrier?: { startsAt: number; releasedAt: number | null } | null;
  /**
   * The start (or hold) in flight: set while its containers are being started, so that a second
   * caller (the engine answering again mid-start, a timer) waits for it instead of starting the
   * containers again — a second `docker start` of a container whose command already exited
   * would run the command twice.
   */
  starting?: Promise<void> | null;
  /**
   * The RUNNING report of a main just started, held back for a moment: an exit within it carries
   * it (one report for a session that ends at once); else its timer sends it (reports.ts).
   */
  heldRunning?: { data: Record<string, unknown>; at: number; timer: NodeJS.Timeout } | null;
}

export function newTracked(
  sessionId: string,
  attempt: number,
  batchTimeoutSec: number | null,
  state: Tracked['state'],
): Tracked {
  return {
    sessionId,
    attempt,
    containers: [],
    network: null,
    state,
    startTimer: null,
    timeoutTimer: null,
    batchTimeoutSec,
    timedOut: false,
    stopReason: null,
    pendingStop: null,
    waitAbort: null,
    stopLogs: null,
    copier: null,
    phases: [],
  };
}

/** Records a quick phase; it is reported with the next report (see SessionProgressReport.phases). */
export function note(t: Tracked, status: ProgressStatus): void {
  t.phases.push({ status, at: Date.now() });
}

/**
 * Runs `start` unless a start of this session is in flight; then it waits for that one, which
 * decides (and whose failure it shares: the caller may try again once it has ended).
 */
export function startOnce(t: Tracked, start: () => Promise<void>): Promise<void> {
  if (t.starting) return t.starting;
  const run = start().finally(() => {
    if (t.starting === run) t.starting = null;
  });
  t.starting = run;
  return run;
}

/** Clears a session's start and timeout timers and stops following its output. */
export function stopTimers(t: Tracked): void {
  clearLongTimeout(t.startTimer);
  clearLongTimeout(t.timeoutTimer);
  t.startTimer = t.timeoutTimer = null;
  if (t.diedTimer) clearTimeout(t.diedTimer);
  t.diedTimer = null;
  if (t.heldRunning) clearTimeout(t.heldRunning.timer);
  t.heldRunning = null;
  t.stopLogs?.();
}

/**
 * The reason every cut wait is aborted with: one value made once (an abort without a reason
 * builds a DOMException, stack trace and all, each time).
 */
const WAIT_CUT = new Error('wait cut by the agent');

/** Cuts a session's Docker wait, if one is under way (the watcher then asks how the main stands). */
export function cutWait(t: Tracked): void {
  t.waitAbort?.abort(WAIT_CUT);
}

export function mainOf(t: Tracked): { kernelId: string; containerId: string } {
  const m = t.containers.find((c) => c.role === 'main') ?? t.containers[0];
  if (!m) throw new Error(`session ${t.sessionId} has no container`);
  return m;
}

/** The sessions an agent tracks, by id, and the attempts it has finished with. */
export class SessionTable {
  private readonly byId = new Map<string, Tracked>();
  /**
   * Attempts this agent ran and cleaned up. A run job the reconciler re-sent just before the
   * manager recorded the exit can arrive after the cleanup: it must not run the command again.
   */
  private readonly finished = new Set<string>();
  /** Sessions taken on since the agent started (each set of a new one). */
  private added = 0;

  get(sessionId: string): Tracked | undefined {
    return this.byId.get(sessionId);
  }

  has(sessionId: string): boolean {
    return this.byId.has(sessionId);
  }

  set(t: Tracked): void {
    if (!this.byId.has(t.sessionId)) this.added++;
    this.byId.set(t.sessionId, t);
  }

  /** How many sessions the table has taken on since the agent started. */
  get taken(): number {
    return this.added;
  }

  delete(sessionId: string): void {
    this.byId.delete(sessionId);
  }

  /** A snapshot: the table may change while the caller awaits. */
  all(): Tracked[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }

  markFinished(sessionId: string, attempt: number): void {
    this.finished.add(`${sessionId}:${attempt}`);
    if (this.finished.size > 50_000) this.finished.delete(this.finished.values().next().value!);
  }

  isFinished(sessionId: string, attempt: number): boolean {
    return this.finished.has(`${sessionId}:${attempt}`);
  }
}
