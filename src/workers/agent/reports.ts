import type { Slots } from '../../domain/resources.js';
import type { KernelExitedReport, ProgressStatus } from '../../queue/payloads.js';
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

  /** The main runs (started, or found running), with its containers. */
  async running(t: Tracked, data: Record<string, unknown>): Promise<void> {
    const containers = t.containers.map((c) => ({ kernelId: c.kernelId, containerId: c.containerId }));
    await this.sessionProgress(t, 'RUNNING', data, `RUNNING.${Date.now()}`, containers);
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
          at: Date.now(),
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
