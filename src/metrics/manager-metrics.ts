import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { AgentSlots, SessionCount } from '../persistence/metrics-store.js';
import type { ScheduleState } from '../persistence/schedule-metrics-store.js';
import { ScheduleGauges } from './schedule-gauges.js';
import { SingleFlight } from './single-flight.js';

/** What a scrape reads: PostgreSQL (one store) and the reports queues' job counts. */
export interface ManagerMetricsSources {
  sessionCounts(): Promise<SessionCount[]>;
  agentSlots(): Promise<AgentSlots[]>;
  scheduleStates(): Promise<ScheduleState[]>;
  /** Job counts by state of the reports queue of each agent named. */
  reportsBacklog(agentIds: string[]): Promise<Map<string, Record<string, number>>>;
}

interface ScrapeState {
  sessions: SessionCount[];
  agents: AgentSlots[];
  schedules: ScheduleState[];
  backlog: Map<string, Record<string, number>>;
  at: number;
}

/** Seconds, from a millisecond or two to the hour a large image may take to reach a host. */
const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const PASS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The manager's metrics (docs/metrics.md), in a registry of its own (never prom-client's global
 * one: several managers may share a test process). The hot paths call the small `observe*`
 * methods; what PostgreSQL and Redis hold is read once per scrape, and concurrent scrapes share
 * that one read.
 */
export class ManagerMetrics {
  readonly registry = new Registry();
  private readonly http: Histogram<'route' | 'method' | 'status'>;
  private readonly passDuration: Histogram;
  private readonly decisions: Counter<'outcome'>;
  private readonly submitToStart: Histogram<'scaling_group'>;
  private readonly callbacks: Counter<'outcome'>;
  private readonly sessions: Gauge<'status' | 'result' | 'scaling_group'>;
  private readonly pendingAge: Gauge<'scaling_group'>;
  private readonly agentUp: Gauge<'agent_id' | 'scaling_group'>;
  private readonly agentSlots: Gauge<'agent_id' | 'scaling_group' | 'slot'>;
  private readonly agentSlotsUsed: Gauge<'agent_id' | 'scaling_group' | 'slot'>;
  private readonly backlog: Gauge<'agent_id' | 'state'>;
  private readonly scrapes: Counter;
  private readonly scheduleRuns: Counter<'outcome'>;
  private readonly schedules: ScheduleGauges;
  private readonly reads: SingleFlight<ScrapeState>;
  private sources: ManagerMetricsSources | null = null;

  constructor() {
    const registers = [this.registry];
    this.http = new Histogram({
      name: 'bai_http_request_duration_seconds',
      help: 'HTTP requests to the manager by route template, method and status code.',
      labelNames: ['route', 'method', 'status'],
      buckets: HTTP_BUCKETS,
      registers,
    });
    this.passDuration = new Histogram({
      name: 'bai_dispatch_pass_duration_seconds',
      help: 'Duration of one dispatcher pass over every scaling group with PENDING sessions.',
      buckets: PASS_BUCKETS,
      registers,
    });
    this.decisions = new Counter({
      name: 'bai_dispatch_decisions_total',
      help: 'Dispatcher decisions about PENDING sessions: placed, waiting (no capacity), cancelled (a dependency failed).',
      labelNames: ['outcome'],
      registers,
    });
    this.submitToStart = new Histogram({
      name: 'bai_session_submit_to_start_seconds',
      help: 'From a session’s submission to its RUNNING (observed once per session start).',
      labelNames: ['scaling_group'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.callbacks = new Counter({
      name: 'bai_callback_deliveries_total',
      help: 'Callback (webhook) delivery attempts by outcome: delivered, failed (retried), given-up, refused, redirected.',
      labelNames: ['outcome'],
      registers,
    });
    this.sessions = new Gauge({
      name: 'bai_sessions',
      help: 'Sessions in PostgreSQL by status, result (UNDEFINED until they end) and scaling group.',
      labelNames: ['status', 'result', 'scaling_group'],
      registers,
    });
    this.pendingAge = new Gauge({
      name: 'bai_pending_oldest_age_seconds',
      help: 'Age of the oldest PENDING session of each scaling group (0: none waits).',
      labelNames: ['scaling_group'],
      registers,
    });
    this.agentUp = new Gauge({
      name: 'bai_agent_up',
      help: 'Agents the manager watches: 1 ALIVE (heartbeating), 0 LOST.',
      labelNames: ['agent_id', 'scaling_group'],
      registers,
    });
    this.agentSlots = new Gauge({
      name: 'bai_agent_slots',
      help: 'Declared capacity of each agent by slot (cpu in cores, mem in bytes, others as declared).',
      labelNames: ['agent_id', 'scaling_group', 'slot'],
      registers,
    });
    this.agentSlotsUsed = new Gauge({
      name: 'bai_agent_slots_used',
      help: 'Slots held on each agent by the kernels placed there (SCHEDULED to TERMINATING).',
      labelNames: ['agent_id', 'scaling_group', 'slot'],
      registers,
    });
    this.backlog = new Gauge({
      name: 'bai_reports_queue_jobs',
      help: 'Jobs in each agent’s reports queue by state (wait, active, delayed, failed), read at scrape.',
      labelNames: ['agent_id', 'state'],
      registers,
    });
    this.scrapes = new Counter({
      name: 'bai_metrics_reads_total',
      help: 'Reads of PostgreSQL and Redis made for scrapes (concurrent scrapes share one).',
      registers,
    });
    this.scheduleRuns = new Counter({
      name: 'bai_schedule_runs_total',
      help: 'Schedule instants decided, by outcome: started, skipped (Forbid), missed (past the deadline or superseded), triggered, failed (not admitted).',
      labelNames: ['outcome'],
      registers,
    });
    this.schedules = new ScheduleGauges(registers);
    this.reads = new SingleFlight(() => this.read());
  }

  /** Where scrapes read from (set by the composition root once the stores exist). */
  attach(sources: ManagerMetricsSources): void {
    this.sources = sources;
  }

  observeHttp(route: string, method: string, status: number, seconds: number): void {
    this.http.observe({ route, method, status: String(status) }, seconds);
  }

  observePass(seconds: number): void {
    this.passDuration.observe(seconds);
  }

  countDecisions(outcome: 'placed' | 'waiting' | 'cancelled', n = 1): void {
    if (n > 0) this.decisions.inc({ outcome }, n);
  }

  observeSubmitToStart(scalingGroup: string, seconds: number): void {
    this.submitToStart.observe({ scaling_group: scalingGroup }, Math.max(0, seconds));
  }

  countCallback(outcome: string): void {
    this.callbacks.inc({ outcome });
  }

  /** Counted where schedule_runs rows are written (src/api/schedule-firing.ts). */
  countScheduleRuns(outcome: string, n = 1): void {
    if (n > 0) this.scheduleRuns.inc({ outcome }, n);
  }

  /** The exposition text: the state read once for this scrape (shared with concurrent ones). */
  async render(): Promise<string> {
    if (this.sources) this.apply(await this.reads.run());
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private async read(): Promise<ScrapeState> {
    const src = this.sources!;
    this.scrapes.inc();
    const [sessions, agents, schedules] = await Promise.all([
      src.sessionCounts(),
      src.agentSlots(),
      src.scheduleStates(),
    ]);
    const backlog = await src.reportsBacklog(agents.map((a) => a.id));
    return { sessions, agents, schedules, backlog, at: Date.now() };
  }

  private apply(s: ScrapeState): void {
    this.sessions.reset();
    this.pendingAge.reset();
    const oldest = new Map<string, number>();
    for (const c of s.sessions) {
      this.sessions.inc({ status: c.status, result: c.result, scaling_group: c.scalingGroup }, c.count);
      if (!oldest.has(c.scalingGroup)) oldest.set(c.scalingGroup, 0);
      if (c.status === 'PENDING' && c.oldest) {
        const age = Math.max(0, (s.at - c.oldest.getTime()) / 1000);
        oldest.set(c.scalingGroup, Math.max(oldest.get(c.scalingGroup)!, age));
      }
    }
    for (const [group, age] of oldest) this.pendingAge.set({ scaling_group: group }, age);
    this.agentUp.reset();
    this.agentSlots.reset();
    this.agentSlotsUsed.reset();
    for (const a of s.agents) {
      const labels = { agent_id: a.id, scaling_group: a.scalingGroup };
      this.agentUp.set(labels, a.status === 'ALIVE' ? 1 : 0);
      for (const [slot, v] of Object.entries(a.capacity)) this.agentSlots.set({ ...labels, slot }, v);
      for (const slot of Object.keys(a.capacity))
        this.agentSlotsUsed.set({ ...labels, slot }, a.used[slot] ?? 0);
    }
    this.backlog.reset();
    for (const [agentId, counts] of s.backlog)
      for (const [state, n] of Object.entries(counts)) this.backlog.set({ agent_id: agentId, state }, n);
    this.schedules.apply(s.schedules);
  }
}
