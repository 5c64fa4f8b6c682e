import { placementOf, type PlacementCandidate } from '../../domain/placement.js';
import {
  capacityPredicate,
  DEPENDENCY_FAILED,
  dependencyFailure,
  samePredicates,
  type Predicate,
} from '../../domain/predicates.js';
import { scaleSlots } from '../../domain/resources.js';
import type { AgentReading, RunnableSession } from '../../persistence/placement-commit.js';
import type { PlacedKernel, PlacedSession } from '../../persistence/rows.js';
import type { GroupSurvey, SchedulerStore } from '../../persistence/scheduler-store.js';
import type { SessionStore } from '../../persistence/session-store.js';
import type { CatalogStore, ResolvedImage } from '../../persistence/catalog-store.js';
import type { AgentQueues } from '../../queue/agent-queues.js';
import type { Logger } from '../../log/logger.js';
import type { ManagerMetrics } from '../../metrics/manager-metrics.js';
import { imageForRun, runJobOf } from './run-job.js';
import { cancelPastStartDeadlines } from './start-deadlines.js';
import { realTimers, setLongTimeoutAt, type LongTimeout, type TimerApi } from '../long-timer.js';
import { QuietGate } from './quiet-gate.js';
import type { RunnableScan } from '../../persistence/runnable-scan.js';
import { EarlyScans } from './early-scans.js';
import { deeperMayPlace, MAX_NEEDS } from './deeper-read.js';

export interface DispatcherDeps {
  scheduler: SchedulerStore;
  sessions: SessionStore;
  catalog: CatalogStore;
  queues: AgentQueues;
  log: Logger;
  /** Sessions whose starts_at is this close are placed so the agent can prepare ahead. */
  startLeadMs: number;
  /** Runs `fn` only while this manager holds the dispatch lease. */
  withLease: (fn: () => Promise<void>) => Promise<void>;
  /** Pass durations and decisions (manager-metrics.ts); absent in some tests. */
  metrics?: Pick<ManagerMetrics, 'observePass' | 'countDecisions'>;
  /** The wake-up timer's clock (tests inject their own). */
  timers?: TimerApi;
  /** Moves array parents after their children (array-settler.ts), at the start of each pass. */
  settleArrays?: () => Promise<unknown>;
  /**
   * The sessions a pass reads first per group, in dispatch order (BAI_DISPATCH_PAGE); the rest
   * of them (up to PASS_LIMIT) only when these leave an agent that a later one could use.
   */
  passPage: number;
}

/** The most PENDING sessions one pass considers per group, among those that can run now. */
const PASS_LIMIT = 1000;

/** A pass's one reading of the clock: its instant and the start lead's horizon from it. */
interface PassInstant {
  now: Date;
  horizon: Date;
}
/** Sessions committed per transaction on one agent: big enough to amortise, small enough to start early. */
const COMMIT_CHUNK = 32;

/**
 * Moves PENDING sessions to agents when their predicates pass. A pass is triggered at once by a
 * submit or a finished session (kick), by a timer at the next starts_at, and by a slow tick as a
 * safety net. Placement is committed in PostgreSQL (agent rows locked) before the job is
 * enqueued; a crash in between is repaired by the reconciler, which re-enqueues SCHEDULED
 * sessions that no agent has acknowledged.
 */
export class Dispatcher {
  private running: Promise<void> | null = null;
  private again = false;
  private timer: LongTimeout | null = null;
  private tick: NodeJS.Timeout | null = null;
  private closed = false;
  private started = 0;
  /** Whether a pass was asked for (kick) since the last safety tick, by anything but the tick. */
  private kickedSinceTick = false;
  /**
   * Whether the last pass found no PENDING session, and wake-ups that are not kicks (`elsewhere`,
   * a later starts_at) since it began: a pass under way does not miss them.
   */
  private readonly quiet = new QuietGate();
  private readonly passListeners = new Set<(n: number) => void | Promise<void>>();
  private readonly timers: TimerApi;
  /** The runnable scans a pass starts beside its survey (early-scans.ts). */
  private readonly early = new EarlyScans();
  /** The sessions a pass reads first per group (passGroup). */
  private readonly page: number;

  constructor(private readonly deps: DispatcherDeps) {
    this.timers = deps.timers ?? realTimers;
    this.page = Math.min(deps.passPage, PASS_LIMIT);
  }

  start(tickMs = 2000): void {
    if (this.closed) return;
    this.tick = setInterval(() => this.onTick(), tickMs);
    this.kick();
  }

  /** How many passes have begun (a pass that begins after a commit sees that commit). */
  get passesStarted(): number {
    return this.started;
  }

  /**
   * Calls `fn(n)` when pass n has ended (awaited before the next pass begins); for tests and
   * metrics. Returns the unsubscribe function.
   */
  onPass(fn: (n: number) => void | Promise<void>): () => void {
    this.passListeners.add(fn);
    return () => this.passListeners.delete(fn);
  }

  /**
   * The safety tick: a pass, unless one was asked for since the last tick (while kicks keep
   * passes coming, as in a drain, a tick pass would read the same rows again for nothing).
   * Whatever a skipped tick would have seen is seen by that pass or by the next tick's, at most
   * two ticks on. A manager without the lease tries it at each tick, as a kick would.
   *
   * When the last pass found no PENDING session at all, only something new gives a pass work: a
   * submit, a retry or a freed slot here (they kick), another manager's commit (`elsewhere`), a
   * later starts_at (`wake`). The tick then passes only every QUIET_RECHECK_MS (quiet-gate.ts),
   * for a wake-up lost with Redis: an idle manager does not read the sessions every two seconds.
   */
  private onTick(): void {
    const asked = this.kickedSinceTick;
    this.kickedSinceTick = false;
    if (asked) return;
    if (this.quiet.resting()) return;
    this.kick();
    this.kickedSinceTick = false; // the tick's own kick
  }

  /** Another manager committed something (told through Redis): the next safety tick passes. */
  elsewhere(): void {
    this.quiet.wake();
  }

  /** Asks for a pass soon; passes never overlap, and kicks during a pass cause one more. */
  kick(): void {
    if (this.closed) return;
    this.kickedSinceTick = true;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => (this.closed ? undefined : this.deps.withLease(() => this.pass())))
      .catch((err) => this.deps.log.error('dispatch pass failed', { err: String(err) }))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Stops: no pass begins after this, and the one under way ends without arming a timer. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.tick) clearInterval(this.tick);
    this.tick = null;
    this.armTimer(Infinity);
    while (this.running) await this.running;
    this.armTimer(Infinity);
  }

  /** One dispatch pass over every scaling group with PENDING sessions. */
  async pass(): Promise<void> {
    const n = ++this.started;
    const t0 = performance.now();
    const began = this.quiet.begin();
    this.quiet.forget();
    let nextWake = Infinity;
    // Before the groups: a parent that ends here lets its dependents go in this same pass.
    await this.deps.settleArrays?.();
    const now = Date.now();
    const at: PassInstant = { now: new Date(now), horizon: new Date(now + this.deps.startLeadMs) };
    this.early.start((group, waiting) => this.runnable(group, at, this.page, waiting));
    let groups = 0;
    try {
      const surveys = await this.deps.scheduler.survey(at.horizon, at.now, PASS_LIMIT);
      groups = surveys.length;
      for (const survey of surveys) {
        nextWake = Math.min(nextWake, await this.passGroup(survey, at));
      }
    } finally {
      await this.early.settle();
    }
    // No group has a PENDING session: the safety tick may rest (onTick).
    if (groups === 0) this.quiet.rest(began);
    this.deps.metrics?.observePass((performance.now() - t0) / 1000);
    this.armTimer(nextWake);
    for (const fn of this.passListeners) await fn(n);
  }

  /** Arms the wake-up for `at` (epoch ms; Infinity: none). Never once closed. */
  private armTimer(at: number): void {
    this.timer?.clear();
    this.timer = null;
    if (this.closed || !Number.isFinite(at)) return;
    // A long timer: a start months away neither fires at once (setTimeout's 2^31 ms overflow)
    // nor needs polling; the safety tick covers anything it would miss.
    this.timer = setLongTimeoutAt(() => this.kick(), at, this.timers);
  }

  /**
   * A new session asks for a pass. One whose starts_at is beyond the lead window cannot be
   * placed now, so it only moves the wake-up timer earlier if it is the first due; the safety
   * tick's next pass writes its `starts_at` predicate. Under a stream of such submits this
   * saves a pass (five statements) per request.
   */
  wake(startsAt: Date | null | undefined, groups: Iterable<string> = []): void {
    const due = startsAt ? startsAt.getTime() - this.deps.startLeadMs : -Infinity;
    if (due <= Date.now()) {
      // The pass is likely to place in these groups: their scans go beside its survey.
      for (const g of groups) this.early.expect(g);
      return this.kick();
    }
    this.quiet.wake(); // the next tick writes its predicate
    if (!this.closed && due < (this.timer?.active ? this.timer.at : Infinity)) this.armTimer(due);
  }

  /**
   * Places what can run now in one scaling group, after the survey (one statement for all
   * groups, SchedulerStore.survey) explained the sessions that cannot and read the group's
   * agents. Returns the epoch ms at which a waiting session's time predicate will next pass.
   *
   * Sessions that cannot run now — a later starts_at, a retry backoff, a dependency not yet
   * ended, a keypair at its concurrency limit — are explained by set-based UPDATEs and left out
   * of the scan, so however many of them wait they never fill its LIMIT and hide a session
   * that can run (one keypair cannot starve the group). The scan reads only sessions whose
   * sole open question is capacity, in priority then FIFO order, for placement.
   */
  protected async passGroup(survey: GroupSurvey, at: PassInstant): Promise<number> {
    const { group, agents } = survey;
    // Sessions whose starts_at is beyond the lead window are left out of the scan below, so a
    // pass costs the same whether a thousand sessions wait for tomorrow or none do.
    const later = survey.laterAt ? survey.laterAt.getTime() - this.deps.startLeadMs : Infinity;
    await this.cancelBrokenDependents(survey.broken);
    const deadlines = await cancelPastStartDeadlines(this.deps, survey.expired, PASS_LIMIT);
    // Their dependents may now be cancelled or run; more than a pass's worth: go on at once.
    if (deadlines.cancelled || deadlines.more) this.kick();
    const next = Math.min(
      later,
      survey.backoffAt ? survey.backoffAt.getTime() : Infinity,
      survey.nextDeadline ? survey.nextDeadline.getTime() : Infinity,
    );
    // A page first: once its placement leaves every agent reserved, no later session could be
    // placed in this pass, and the statement already wrote theirs (waiting for capacity). Else,
    // unless no request in the group fits the room left (deeper-read.ts), the whole list is
    // read and placed, as if the page had not been read.
    const waitingPreds = [capacityPredicate(agents.length)];
    let scan: RunnableScan =
      (await this.early.take(group, agents.length, waitingPreds, survey.joined > 0)) ??
      (await this.runnable(group, at, this.page, waitingPreds));
    let placement = placementOf(candidatesOf(scan.rows), agents);
    const needs = () => this.deps.scheduler.pendingNeeds(group, MAX_NEEDS);
    if (scan.more && placement.open && (await deeperMayPlace(placement, scan.rows.length, needs))) {
      scan = await this.runnable(group, at, PASS_LIMIT, waitingPreds);
      placement = placementOf(candidatesOf(scan.rows), agents);
      // More than a pass reads, and room for them: the next pass goes on at once.
      if (scan.more && placement.open) this.kick();
    }
    const pending = scan.rows;
    // Sessions left waiting for capacity alone: a freed slot's pass will likely place one here.
    if (scan.more || scan.total > placement.decisions.length) this.early.expect(group);
    if (pending.length === 0) return next;

    const waiting = new Map<string, Predicate[]>();
    // Read just now in this group: where their jobs go, without a read per agent to enqueue.
    for (const a of agents) this.deps.queues.noteGroup(a.id, group);
    const decisions = placement.decisions;
    const placed = new Set(decisions.map((d) => d.sessionId));
    for (const c of pending) {
      if (!placed.has(c.id)) waiting.set(c.id, waitingPreds);
    }
    const byId = new Map(pending.map((s) => [s.id, s]));
    await this.commitPlacements(decisions, byId, agents);
    // Those after the page wait too (their predicates were written with the page's read; a page
    // read from the head of the queue counts those of the head).
    this.deps.metrics?.countDecisions('waiting', waiting.size + Math.max(0, scan.total - pending.length));
    await this.recordPredicates(byId, waiting);
    return next;
  }

  /** The group's runnable scan at the pass's instant: its first `limit` sessions. */
  private runnable(group: string, at: PassInstant, limit: number, waiting: readonly Predicate[]) {
    return this.deps.scheduler.runnable(group, at.horizon, at.now, limit, waiting);
  }

  /** Cancels, `dependency-failed`, the group's sessions a dependency's end let down (theirs: next pass). */
  private async cancelBrokenDependents(rows: GroupSurvey['broken']): Promise<void> {
    let cancelled = false;
    for (const r of rows) {
      const row = await this.deps.sessions.transition(r.id, 'CANCELLED', {
        from: ['PENDING'],
        info: DEPENDENCY_FAILED,
        data: dependencyFailure(r.dependency),
        result: 'FAILURE',
        kernels: true,
      });
      cancelled ||= row !== null;
      if (row) this.deps.metrics?.countDecisions('cancelled');
    }
    if (cancelled || rows.length === PASS_LIMIT) this.kick();
  }

  /**
   * Commits the pass's decisions: per agent, in statements of up to COMMIT_CHUNK sessions that
   * commit only if no other placement on the agent committed since it was read (so two managers
   * never over-commit it); agents in parallel. One transaction per session was the bottleneck
   * of a burst on a busy machine.
   */
  private async commitPlacements(
    decisions: { sessionId: string; agentId: string }[],
    byId: Map<string, RunnableSession>,
    agents: readonly AgentReading[],
  ): Promise<void> {
    const byAgent = new Map<string, RunnableSession[]>();
    for (const d of decisions) {
      const s = byId.get(d.sessionId);
      if (s) byAgent.set(d.agentId, [...(byAgent.get(d.agentId) ?? []), s]);
    }
    const images = new Map<string, Promise<ResolvedImage | null>>();
    const imageOf = (row: Pick<RunnableSession, 'id' | 'domain_name' | 'image'>) => {
      const key = `${row.domain_name}\u0000${row.image}`;
      let p = images.get(key);
      if (!p) {
        p = imageForRun(this.deps.catalog, row, this.deps.log);
        images.set(key, p);
      }
      return p;
    };
    // Read while the placements commit rather than after: each run job waits for its image
    // (four catalog reads), and what is placed does not change which image a session runs.
    for (const list of byAgent.values()) for (const s of list) void imageOf(s);
    await Promise.all(
      [...byAgent].map(async ([agentId, list]) => {
        for (let i = 0; i < list.length; i += COMMIT_CHUNK) {
          // The first chunk is decided on the survey's reading of the agent; the next ones read it
          // again (the placement before them changed it).
          const placed = await this.deps.scheduler.commitPlacement(
            agentId,
            list.slice(i, i + COMMIT_CHUNK),
            i === 0 ? (agents.find((a) => a.id === agentId) ?? null) : null,
          );
          if (placed.length === 0) return; // the agent is gone or full: the next pass decides again
          this.early.placed();
          this.deps.sessions.notifyCommitted();
          this.deps.metrics?.countDecisions('placed', placed.length);
          await Promise.all(
            placed.map(async ({ session, kernels }) =>
              this.enqueue(agentId, session, kernels, await imageOf(session)),
            ),
          );
        }
      }),
    );
  }

  /** Sends a placed session's run job, built from the rows its placement returned. */
  private async enqueue(
    agentId: string,
    row: PlacedSession,
    kernels: PlacedKernel[],
    image: ResolvedImage | null,
  ): Promise<void> {
    try {
      await this.deps.queues.run(agentId, runJobOf(row, kernels, image));
    } catch (err) {
      // Committed but not sent (Redis away): the reconciler re-enqueues it; place the others.
      this.deps.log.error('enqueue failed; the reconciler will repair it', {
        sessionId: row.id,
        err: String(err),
      });
    }
  }

  /** The capacity predicates that changed, written in one statement. */
  private async recordPredicates(
    byId: Map<string, RunnableSession>,
    waiting: Map<string, Predicate[]>,
  ): Promise<void> {
    const changed = [...waiting]
      .filter(([id, preds]) => !samePredicates(byId.get(id)?.predicates, preds))
      .map(([id, predicates]) => ({ id, predicates }));
    await this.deps.scheduler.writePredicates(changed);
  }
}

/** The scan's sessions as placement candidates (each kernel asks for the session's slots). */
function candidatesOf(rows: readonly RunnableSession[]): PlacementCandidate[] {
  return rows.map((s) => ({
    sessionId: s.id,
    need: scaleSlots(s.requested_slots, s.cluster_size),
    architecture: s.architecture,
  }));
}
