import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds: a cached layer in a second, a large image over a slow link in many minutes. */
const PULL_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800];
const START_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * An agent's metrics (docs/metrics.md), on its own `GET /metrics` (agent-metrics-server.ts), in
 * a registry of its own. The pipeline calls the `observe*`/`count*` methods; the running
 * containers are counted from the agent's session table at each scrape.
 */
export class AgentMetrics {
  readonly registry = new Registry();
  private readonly pulls: Histogram<'outcome'>;
  private readonly cached: Counter;
  private readonly starts: Histogram;
  private readonly started: Counter;
  private readonly runningReports: Counter<'how'>;

  constructor(agentId: string, runningContainers: () => number) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ agent_id: agentId });
    new Gauge({
      name: 'bai_agent_containers_running',
      help: 'Containers of this agent’s sessions that run now (mains and subs).',
      registers,
      collect() {
        this.set(runningContainers());
      },
    });
    this.started = new Counter({
      name: 'bai_agent_containers_started_total',
      help: 'Containers this agent started (mains and subs).',
      registers,
    });
    this.pulls = new Histogram({
      name: 'bai_agent_image_pull_duration_seconds',
      help: 'Image pulls by outcome (pulled, failed); an image already present is not pulled.',
      labelNames: ['outcome'],
      buckets: PULL_BUCKETS,
      registers,
    });
    this.cached = new Counter({
      name: 'bai_agent_image_present_total',
      help: 'Run jobs whose image the engine already had (no pull).',
      registers,
    });
    this.starts = new Histogram({
      name: 'bai_agent_container_start_duration_seconds',
      help: 'Starting one session’s containers (subs then main), from the first start call to the last.',
      buckets: START_BUCKETS,
      registers,
    });
    this.runningReports = new Counter({
      name: 'bai_agent_running_reports_total',
      help: 'RUNNING reports of started mains: sent alone, or carried by an exit within BAI_RUNNING_REPORT_HOLD_MS.',
      labelNames: ['how'],
      registers,
    });
  }

  countRunningReport(how: 'alone' | 'with-exit'): void {
    this.runningReports.inc({ how });
  }

  observePull(outcome: 'pulled' | 'failed', seconds: number): void {
    this.pulls.observe({ outcome }, seconds);
  }

  countImagePresent(): void {
    this.cached.inc();
  }

  observeStart(containers: number, seconds: number): void {
    this.started.inc(containers);
    this.starts.observe(seconds);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
