import type { Slots } from '../../domain/resources.js';
import type { AgentMetrics } from '../../metrics/agent-metrics.js';
import type { HeldRunning, KernelExitedReport, ProgressStatus } from '../../queue/payloads.js';
import type { Reporter } from './reporter.js';
import type { Tracked } from './tracked.js';

/** The phases of a start before the command runs. */
export type StartPhase = Exclude<ProgressStatus, 'RUNNING'>;

/** Which attempt of which session a report is about. */
interface AttemptRef {
  sessionId: string;
  attempt: number;
}

/**
 * What the agent tells the manager, one method per report. Each report's id is derived from
 * what it says (see Reporter), so sending one twice stores it once.
 */
export class AgentReports {
  constructor(
    private readonly reporter: Reporter,
    private readonly agentId: string,
    /** How the RUNNING reports went: alone, or carried by the exit (absent: not counted). */
    private readonly metrics?: Pick<AgentMetrics, 'countRunningReport'>,
  ) {}

  async agentStarted(
    scalingGroup: string,
    slots: Slots,
    version: string,
    architecture: string,
  ): Promise<void> {
    await this.reporter.send(
      {
        name: 'agent-started',
        data: { agentId: this.agentId, scalingGroup, slots, version, addr: '', architecture },
      },
      `agent-started.${this.agentId}.${Date.now()}`,
    );
  }

  /** A phase of a start, with the quick phases noted before it. */
  async progress(t: Tracked, status: StartPhase, data?: Record<string, unknown>, suffix = ''): Promise<void> {
    await this.sessionProgress(t, status, data, `${status}${suffix ? `.${suffix}` : ''}`);
  }

  /** Reports the noted phases now: the last one as the status, the others before it. */
  async flushPhases(tracked: Tracked): Promise<void> {
    const last = tracked.phases.pop();
    if (!last || last.status === 'RUNNING') return;
    await this.progress(tracked, last.status);
  }

  /**
   * The main runs (started, or found running), with its containers. A RUNNING report held back
   * for the session (holdRunning) goes now (counted `alone`), with its time and data under `data`.
   */
  async running(t: Tracked, data: Record<string, unknown>): Promise<void> {
    const held = takeHeld(t);
    if (held) this.metrics?.countRunningReport('alone');
    const at = held?.at ?? Date.now();
    await this.sessionProgress(
      t,
      'RUNNING',
      { ...held?.data, ...data },
      `RUNNING.${at}`,
      containersOf(t),
      at,
    );
  }

  /**
   * The main was started just now: its RUNNING report waits up to `holdMs` for the main's exit,
   * which then carries it (takeHeldRunning: one report, not two, for a session that ends at
   * once); when the wait ends first, it is sent as `running` would have, with the time it began
   * running. `onError`: a send that failed then, which only a Redis error does (through an
   * outage the connection waits); the exit's report still records RUNNING, from the
   * container's start, and a restarted agent's adoption says it again.
   */
  holdRunning(
    t: Tracked,
    data: Record<string, unknown>,
    holdMs: number,
    onError: (err: unknown) => void,
  ): void {
    takeHeld(t);
    const at = Date.now();
    const timer = setTimeout(() => {
      // Exited meanwhile: its exit report, on its way, carries this one.
      if (t.heldRunning?.timer !== timer || t.state === 'exited') return;
      this.running(t, {}).catch(onError);
    }, holdMs);
    t.heldRunning = { data, at, timer };
  }

  /** The held RUNNING report (holdRunning), taken for the exit to carry; null when none is held. */
  takeHeldRunning(t: Tracked): HeldRunning | null {
    const held = takeHeld(t);
    if (!held) return null;
    this.metrics?.countRunningReport('with-exit');
    const phases = t.phases.splice(0);
    return {
      ...(phases.length > 0 ? { phases } : {}),
      data: held.data,
      containers: containersOf(t),
      at: held.at,
    };
  }

  /** Sends a held RUNNING report now (the agent is closing: no exit will carry it). */
  async flushHeldRunning(t: Tracked): Promise<void> {
    if (t.heldRunning) await this.running(t, {});
  }

  /** A start that did not get to run its command. */
  async failed(
    job: AttemptRef,
    status: 'CANCELLED' | 'ERROR',
    reason: string,
    message: string,
  ): Promise<void> {
    await this.sessionFailed(job, status, reason, message, `failed.${job.sessionId}.${job.attempt}`);
  }

  /** A destroy for a session with nothing here (never arrived, or already removed). */
  async nothingHere(sessionId: string, reason: string): Promise<void> {
    const message = 'No container of this session runs on the agent.';
    await this.sessionFailed(
      { sessionId, attempt: 0 },
      'CANCELLED',
      reason,
      message,
      `destroyed.${sessionId}`,
    );
  }

  /** Stopped (destroy, superseded) before its command started. */
  async abandoned(t: AttemptRef, reason: string): Promise<void> {
    const id = `abandoned.${t.sessionId}.${t.attempt}`;
    await this.sessionFailed(t, 'CANCELLED', reason, 'Stopped before it started.', id);
  }

  /**
   * How the main ended; the id is stable per kernel and attempt, so it may be sent again. Not
   * sent when the manager gave the attempt up (the same script looks): false then.
   */
  async kernelExited(report: Omit<KernelExitedReport, 'agentId'>): Promise<boolean> {
    const sent = await this.reporter.sendUnlessSuperseded(
      { name: 'kernel-exited', data: { agentId: this.agentId, ...report } },
      `exit.${report.kernelId}.${report.attempt}`,
      report,
    );
    return sent !== 'superseded';
  }

  /** A session-progress report, with the phases noted since the last one; `idTail` follows `progress.<session>.<attempt>.`. */
  private async sessionProgress(
    t: Tracked,
    status: ProgressStatus,
    data: Record<string, unknown> | undefined,
    idTail: string,
    containers?: { kernelId: string; containerId: string }[],
    at = Date.now(),
  ): Promise<void> {
    const phases = t.phases.splice(0);
    await this.reporter.send(
      {
        name: 'session-progress',
        data: {
          agentId: this.agentId,
          sessionId: t.sessionId,
          attempt: t.attempt,
          status,
          ...(phases.length > 0 ? { phases } : {}),
          data,
          ...(containers ? { containers } : {}),
          at,
        },
      },
      `progress.${t.sessionId}.${t.attempt}.${idTail}`,
    );
  }

  private async sessionFailed(
    ref: AttemptRef,
    status: 'CANCELLED' | 'ERROR',
    reason: string,
    message: string,
    id: string,
  ): Promise<void> {
    await this.reporter.send(
      {
        name: 'session-failed',
        data: {
          agentId: this.agentId,
          sessionId: ref.sessionId,
          attempt: ref.attempt,
          status,
          reason,
          message,
        },
      },
      id,
    );
  }
}

/** Takes the session's held RUNNING report (its timer cleared): its data and time, or null. */
function takeHeld(t: Tracked): { data: Record<string, unknown>; at: number } | null {
  const held = t.heldRunning;
  if (!held) return null;
  clearTimeout(held.timer);
  t.heldRunning = null;
  return { data: held.data, at: held.at };
}

function containersOf(t: Tracked): { kernelId: string; containerId: string }[] {
  return t.containers.map((c) => ({ kernelId: c.kernelId, containerId: c.containerId }));
}
