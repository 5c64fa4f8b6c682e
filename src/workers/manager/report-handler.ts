import { outcomeOfExit } from '../../domain/batch-result.js';
import { chainFromAny, type PhaseStep } from '../../domain/phase-chain.js';
import type { RetryCause } from '../../domain/session-request.js';
import { isTerminal, PREPARE_STATUSES } from '../../domain/status.js';
import type { CatalogStore } from '../../persistence/catalog-store.js';
import type { Tx } from '../../persistence/db.js';
import type { FleetStore } from '../../persistence/fleet-store.js';
import type { SessionRow } from '../../persistence/rows.js';
import { exitAlone, type ExitMove, type KernelExit } from '../../persistence/session-exit.js';
import { movePhasesAlone } from '../../persistence/session-phases-at-once.js';
import { runAndExitAlone, runAndExitApplies } from '../../persistence/session-run-exit.js';
import type { SessionStore } from '../../persistence/session-store.js';
import type { AgentQueues } from '../../queue/agent-queues.js';
import type {
  AgentStartedReport,
  HeldRunning,
  KernelExitedReport,
  Report,
  SessionFailedReport,
  SessionProgressReport,
} from '../../queue/payloads.js';
import type { Logger } from '../../log/logger.js';
import type { ManagerMetrics } from '../../metrics/manager-metrics.js';
import { nextRetry } from './retry.js';

export interface ReportHandlerDeps {
  fleet: Pick<FleetStore, 'ensureScalingGroup'>;
  sessions: SessionStore;
  catalog: CatalogStore;
  queues: AgentQueues;
  /** Refused reports are logged here (error level: they are what a forged report looks like). */
  log?: Logger;
  /** Submit-to-start latency, observed once a session's move to RUNNING committed. */
  metrics?: Pick<ManagerMetrics, 'observeSubmitToStart'>;
  /** Called when a session ended or freed capacity: the dispatcher should look again. */
  onCapacityFreed: () => void;
}

/** What a session report says it is about: one attempt of a session, on its sender. */
type AttemptReport = Pick<SessionProgressReport, 'sessionId' | 'attempt' | 'agentId'>;

/**
 * Applies agents' reports to PostgreSQL. Every handler is idempotent: reports arrive at least
 * once, possibly late, twice, or after the session moved on; guarded transitions ignore those.
 */
export class ReportHandler {
  constructor(private readonly deps: ReportHandlerDeps) {}

  /**
   * Applies one report. A deadlock or serialization failure (another report or pass touched the
   * same rows) is retried here at once, rather than through the stream's growing retry delay.
   */
  async handle(report: Report, from: string): Promise<void> {
    if (report.data.agentId !== from) {
      // Sent through one agent's stream in another agent's name: nothing of it is applied.
      this.deps.log?.error('report refused', {
        reason: 'sender-mismatch',
        from,
        claimed: report.data.agentId,
        name: report.name,
        sessionId: 'sessionId' in report.data ? report.data.sessionId : null,
      });
      return;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.apply(report);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (attempt >= 5 || (code !== '40P01' && code !== '40001')) throw err;
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 80 * attempt));
      }
    }
  }

  private async apply(report: Report): Promise<void> {
    switch (report.name) {
      case 'agent-started':
        return this.agentStarted(report.data);
      case 'session-progress':
        await this.progress(report.data);
        return;
      case 'kernel-exited':
        return this.kernelExited(report.data);
      case 'session-failed':
        return this.sessionFailed(report.data);
    }
  }

  private async agentStarted(r: AgentStartedReport): Promise<void> {
    await this.deps.fleet.ensureScalingGroup(r.scalingGroup);
    await this.deps.catalog.upsertAgent({
      id: r.agentId,
      scaling_group: r.scalingGroup,
      available_slots: r.slots,
      version: r.version,
      addr: r.addr,
      architecture: typeof r.architecture === 'string' ? r.architecture.slice(0, 32) : undefined,
    });
    this.deps.queues.noteGroup(r.agentId, r.scalingGroup);
    this.deps.onCapacityFreed();
  }

  /**
   * The session a report is about, read and locked in the transaction that applies it (no read
   * before it: one round trip less per report), if the report belongs to its current attempt on
   * that agent; else null: the report is stray (see cleanupStray).
   */
  private async currentIn(trx: Tx, r: AttemptReport): Promise<SessionRow | null> {
    const s = await this.deps.sessions.lockIn(trx, r.sessionId);
    if (s && s.agent_id !== r.agentId) this.notPlacedHere(s, r.agentId);
    if (!s || s.agent_id !== r.agentId || s.attempt !== r.attempt) return null;
    return s;
  }

  /**
   * A report about a session this agent does not hold now: a late one from the agent of an
   * earlier attempt, or a forgery. Either way it changes nothing; it is logged.
   */
  private notPlacedHere(s: SessionRow, agentId: string): void {
    const earlier = (s.attempts ?? []).some((a) => a.agentId === agentId);
    const log = this.deps.log;
    (earlier ? log?.info.bind(log) : log?.error.bind(log))?.('report refused', {
      reason: earlier ? 'earlier-attempt' : 'not-placed-on-sender',
      from: agentId,
      placedOn: s.agent_id,
      sessionId: s.id,
    });
  }

  /** Applies a progress report; false when it was stray (its cleanup sent: see cleanupStray). */
  private async progress(r: SessionProgressReport): Promise<boolean> {
    const { sessions } = this.deps;
    const steps = stepsOf(r);
    // Phases that move the session alike from every status it may be in before them are
    // written in ONE statement with no transaction and no lock read: its guard is the checks
    // below on the locked row; when it refuses, nothing is written and the transaction below
    // takes the report.
    const any = chainFromAny(steps);
    if (any) {
      const guard = { agentId: r.agentId, attempt: r.attempt, from: any.from };
      const moved = await sessions.alone((db, wantEvents) =>
        movePhasesAlone(db, r.sessionId, any.chain, r.containers ?? [], guard, wantEvents),
      );
      if (moved) {
        if (moved.startedAt !== null) this.observeStart(moved.scalingGroup, moved.createdAt, moved.startedAt);
        return true;
      }
    }
    let startedAt: number | null = null;
    let session: SessionRow | null = null;
    await sessions.inTransaction(async (trx) => {
      startedAt = null;
      const s = (session = await this.currentIn(trx, r));
      if (!s) return false;
      // Every phase's guarded move, in one statement (the row is locked: its status says
      // which of them pass); on RUNNING the kernels that moved get their containers.
      const moved = await sessions.movePhasesIn(trx, s, steps, r.containers ?? []);
      startedAt = moved?.startedAt ?? null;
      return moved !== null;
    });
    const s = session as SessionRow | null;
    if (!s) {
      await this.cleanupStray(r);
      return false;
    }
    if (startedAt !== null) this.observeStart(s.scaling_group, s.created_at, startedAt);
    return true;
  }

  /** The move to RUNNING committed: its submit-to-start latency. */
  private observeStart(scalingGroup: string, createdAt: Date, startedAt: number): void {
    this.deps.metrics?.observeSubmitToStart(scalingGroup, (startedAt - createdAt.getTime()) / 1000);
  }

  private async kernelExited(r: KernelExitedReport): Promise<void> {
    const { sessions, queues } = this.deps;
    const outcome = outcomeOfExit(r.exitCode, { timedOut: r.timedOut, oomKilled: r.oomKilled });
    const reason = r.stoppedFor ?? outcome.reason;
    const exit = kernelExitOf(r);
    const mayRetry = r.stoppedFor === null && outcome.result === 'FAILURE' && !r.timedOut;
    const move = { info: reason, data: exitDetail(r, null), result: outcome.result, exitCode: r.exitCode };
    const held = r.running ? heldProgress(r, r.running) : null;
    if (held && !r.timedOut) {
      // The main ended before its RUNNING report went (the agent's hold): a single kernel's
      // RUNNING and end in ONE statement on its own (session-run-exit.ts), its guard the checks
      // of both; when it refuses, nothing is written and the two go one after the other below.
      const any = chainFromAny(stepsOf(held));
      if (any && runAndExitApplies(any.chain, exit)) {
        const guard = { agentId: r.agentId, attempt: r.attempt, from: any.from, noRetryPolicy: mayRetry };
        const containers = held.containers ?? [];
        const moved = await sessions.alone((db, wantEvents) =>
          runAndExitAlone(db, r.sessionId, { chain: any.chain, containers, exit, move }, guard, wantEvents),
        );
        if (moved) {
          if (moved.startedAt !== null)
            this.observeStart(moved.scalingGroup, moved.createdAt, moved.startedAt);
          await queues.cleanup(r.agentId, { sessionId: r.sessionId, attempt: r.attempt });
          this.deps.onCapacityFreed();
          return;
        }
      }
    }
    // The held RUNNING report first, as if it had come on its own. A stray one ends here: its
    // cleanup is sent.
    if (held && !(await this.progress(held))) return;
    // The usual end in ONE statement, with no transaction and no lock read before it: the
    // checks below on the locked row are its guard, and when one fails it writes nothing and
    // the transaction below takes the report (a timeout's message reads the row: it goes there).
    if (!r.timedOut) {
      const guard = {
        agentId: r.agentId,
        attempt: r.attempt,
        notFrom: r.startedAt ? PREPARE_STATUSES : [],
        noRetryPolicy: mayRetry,
      };
      const startedAt = r.finishedAt ? exit.startedAt : undefined;
      const moved = await sessions.alone((db, wantEvents) =>
        exitAlone(db, r.sessionId, exit, move, startedAt, guard, wantEvents),
      );
      if (moved) {
        await queues.cleanup(r.agentId, { sessionId: r.sessionId, attempt: r.attempt });
        this.deps.onCapacityFreed();
        return;
      }
    }
    let overtaken: number | null = null;
    let session: SessionRow | null = null;
    await sessions.inTransaction(async (trx) => {
      overtaken = null;
      // Rows are locked session first, then kernels, like every other transition: taking the
      // kernel first deadlocks against a progress report for the same session.
      const s = (session = await this.currentIn(trx, r));
      if (!s) return null;
      // A repeat (an agent re-sends an exit it is not sure landed, e.g. when its engine comes
      // back, by which time the container may be gone and it reads exit -1): the first report
      // applied stands, for the kernel as for the session. Only the cleanup is sent again.
      if (isTerminal(s.status)) return null;
      const detail = exitDetail(r, s.batch_timeout_sec);
      const retryAt = mayRetry ? nextRetry(s.retry_policy, s.attempt, { exitCode: r.exitCode }) : null;
      let cur = s;
      if (r.startedAt && PREPARE_STATUSES.includes(s.status)) {
        // Reports are applied concurrently, so an exit can overtake its RUNNING report. The
        // container did start: record that first, so history, events and callbacks have it.
        const moved = await sessions.transitionIn(trx, s.id, 'RUNNING', {
          from: PREPARE_STATUSES,
          set: { started_at: new Date(r.startedAt) },
          kernels: true,
        });
        if (moved) {
          overtaken = r.startedAt;
          cur = moved;
        }
      }
      const move: ExitMove = {
        info: reason,
        data: detail,
        result: outcome.result,
        exitCode: r.exitCode,
        ...(r.finishedAt ? { startedAt: s.started_at ?? exit.startedAt } : {}),
      };
      // The usual end: the exit, the move to TERMINATED, its events and the attempt in one
      // statement (session-exit.ts). A retry goes step by step.
      if (!retryAt) return sessions.exitAndTerminateIn(trx, cur, exit, move);
      await sessions.recordKernelExitIn(trx, exit.kernelId, exit);
      for (const sub of exit.subLogs) await sessions.recordKernelLogsIn(trx, s.id, sub.kernelId, sub);
      if (retryAt) {
        return sessions.requeueForRetryIn(trx, s, {
          reason: 'non-zero-exit',
          exitCode: r.exitCode,
          at: retryAt,
          data: detail,
        });
      }
      return sessions.transitionIn(trx, s.id, 'TERMINATED', {
        info: move.info,
        data: move.data,
        result: move.result,
        exitCode: move.exitCode,
        set: 'startedAt' in move ? { started_at: move.startedAt } : {},
        kernels: true,
      });
    });
    const s = session as SessionRow | null;
    if (!s) return this.cleanupStray(r);
    if (overtaken !== null) this.observeStart(s.scaling_group, s.created_at, overtaken);
    await queues.cleanup(r.agentId, { sessionId: s.id, attempt: r.attempt || s.attempt });
    this.deps.onCapacityFreed();
  }

  private async sessionFailed(r: SessionFailedReport): Promise<void> {
    const { sessions, queues } = this.deps;
    const s = await sessions.get(r.sessionId);
    if (s && s.agent_id !== r.agentId) this.notPlacedHere(s, r.agentId);
    if (!s || (r.attempt !== 0 && s.attempt !== r.attempt) || s.agent_id !== r.agentId) return;
    const cause: RetryCause | null = r.reason === 'image-pull-failed' ? 'image-pull-failed' : null;
    const retryAt = cause ? nextRetry(s.retry_policy, s.attempt, cause) : null;
    const data = { error: r.message };
    const row = await sessions.inTransaction(async (trx) => {
      if (retryAt) {
        return sessions.requeueForRetryIn(trx, s, {
          from: PREPARE_STATUSES,
          reason: r.reason,
          exitCode: null,
          at: retryAt,
          data,
        });
      }
      if (s.status === 'TERMINATING') {
        return sessions.transitionIn(trx, s.id, 'TERMINATED', {
          info: r.reason,
          data,
          result: 'FAILURE',
          kernels: true,
        });
      }
      return sessions.transitionIn(trx, s.id, r.status === 'CANCELLED' ? 'CANCELLED' : 'ERROR', {
        info: r.reason,
        data,
        result: 'FAILURE',
        kernels: true,
      });
    });
    if (r.status === 'ERROR' && row && !retryAt) {
      // ERROR is not final: the containers are gone, so the session ends TERMINATED with its reason.
      await sessions.transition(s.id, 'TERMINATED', { info: r.reason, kernels: true });
    }
    await queues.cleanup(r.agentId, { sessionId: s.id, attempt: r.attempt || s.attempt });
    this.deps.onCapacityFreed();
  }

  /**
   * A report for an attempt that is over (or of a session gone, or not placed on its sender):
   * make sure its containers go.
   */
  private async cleanupStray(r: AttemptReport): Promise<void> {
    await this.deps.queues.cleanup(r.agentId, { sessionId: r.sessionId, attempt: r.attempt });
  }
}

/** A progress report's phases, then the status it reports, as the moves to apply. */
function stepsOf(r: SessionProgressReport): PhaseStep[] {
  return [
    ...(r.phases ?? []).map((p) => ({ status: p.status, at: p.at, data: {} as Record<string, unknown> })),
    { status: r.status, at: r.at, data: r.data ?? {} },
  ];
}

/** The RUNNING report an exit carries, as the progress report it stands for. */
function heldProgress(r: KernelExitedReport, held: HeldRunning): SessionProgressReport {
  return {
    agentId: r.agentId,
    sessionId: r.sessionId,
    attempt: r.attempt,
    status: 'RUNNING',
    ...(Array.isArray(held.phases) ? { phases: held.phases } : {}),
    data: held.data ?? {},
    containers: Array.isArray(held.containers) ? held.containers : [],
    at: typeof held.at === 'number' ? held.at : Date.now(),
  };
}

/** The exit as the persistence layer records it. */
function kernelExitOf(r: KernelExitedReport): KernelExit {
  return {
    kernelId: r.kernelId,
    exitCode: r.exitCode,
    logs: r.logs,
    logsTruncated: r.logsTruncated ?? false,
    logsBytes: r.logsTotalBytes ?? null,
    startedAt: r.startedAt ? new Date(r.startedAt) : null,
    subLogs: (r.subLogs ?? []).map((l) => ({
      kernelId: l.kernelId,
      logs: l.logs,
      logsTruncated: l.truncated,
      logsBytes: l.totalBytes,
    })),
  };
}

/** What the exit merges into status_data (a timeout's message names the session's limit). */
function exitDetail(r: KernelExitedReport, batchTimeoutSec: number | null): Record<string, unknown> {
  return {
    exitCode: r.exitCode,
    ...(r.oomKilled ? { oomKilled: true, error: 'The container was killed: out of memory.' } : {}),
    ...(r.timedOut ? { error: `Batch timeout of ${batchTimeoutSec} s reached.` } : {}),
  };
}
