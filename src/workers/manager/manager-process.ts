import { createServer, type Server } from 'node:http';
import { HttpDrain } from '../../api/http-drain.js';
import { join } from 'node:path';
import type { SessionEventRow } from '../../persistence/rows.js';
import type { ManagerConfig } from '../../config/config.js';
import { createApp } from '../../api/app.js';
import { EventHub } from '../../api/event-hub.js';
import { ArrayService } from '../../api/array-service.js';
import { SessionService } from '../../api/session-service.js';
import { IdempotentCreates } from '../../api/idempotent-create.js';
import { SubmitBatcher } from '../../api/submit-batcher.js';
import { AdmissionReads } from '../../api/admission-reads.js';
import { IdempotencyStore } from '../../persistence/idempotency-store.js';
import { ArrayStore } from '../../persistence/array-store.js';
import { AdmissionStore } from '../../persistence/admission-store.js';
import { CatalogStore } from '../../persistence/catalog-store.js';
import { FolderStore } from '../../persistence/folder-store.js';
import { SessionQueries } from '../../persistence/session-queries.js';
import { migrateLatest, openDb, openGenericPlanDb, type Db } from '../../persistence/db.js';
import {
  EMBEDDED_POOL,
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from '../../persistence/embedded-postgres.js';
import { EventStore } from '../../persistence/event-store.js';
import { FleetStore } from '../../persistence/fleet-store.js';
import { SchedulerStore } from '../../persistence/scheduler-store.js';
import { SessionStore } from '../../persistence/session-store.js';
import { SessionBatchStore } from '../../persistence/session-batch.js';
import { WebhookStore } from '../../persistence/webhook-store.js';
import { MetricsStore } from '../../persistence/metrics-store.js';
import { HistoryStore } from '../../persistence/history-store.js';
import { ScheduleMetricsStore } from '../../persistence/schedule-metrics-store.js';
import { ManagerMetrics } from '../../metrics/manager-metrics.js';
import { ReportsBacklog } from '../../queue/reports-backlog.js';
import { AgentQueues } from '../../queue/agent-queues.js';
import { Lease } from '../../queue/lease.js';
import { leaseKey } from '../../queue/names.js';
import { LogWaiters } from '../../queue/log-waiters.js';
import { openRedis } from '../../queue/redis.js';
import type { Logger } from '../../log/logger.js';
import { ArraySettler } from './array-settler.js';
import { ScheduleTicker } from './schedule-ticker.js';
import { ScheduleFiring } from '../../api/schedule-firing.js';
import { ScheduleStore } from '../../persistence/schedule-store.js';
import { TemplateStore } from '../../persistence/template-store.js';
import { Dispatcher } from './dispatcher.js';
import { HistoryPruner } from './history-pruner.js';
import { KeyedSerializer } from './keyed-serializer.js';
import { Loop } from './loop.js';
import { Reconciler } from './reconciler.js';
import { ReportConsumers } from './report-consumers.js';
import { ReportHandler } from './report-handler.js';
import { WebhookSender } from './webhook-sender.js';
import { freePort } from '../../stack/ports.js';

/** Connections of the report statements' pool: PostgreSQL has two cores; each runs in ~3 ms. */
const REPORT_CONNECTIONS = 4;
/** Generic-plan connections the dispatcher's placements commit on (SchedulerStore). */
const PLACE_CONNECTIONS = 2;

export interface RunningManager {
  url: string;
  db: Db;
  /** Pass count and end-of-pass hook, for tests and metrics. */
  dispatcher: Pick<Dispatcher, 'passesStarted' | 'onPass'>;
  /** Listeners of the event hub (SSE streams, create waits), for tests and metrics. */
  hub: Pick<EventHub, 'listenerCount'>;
  /** Blocked live-output readers (each holds a Redis connection), for tests. */
  logWaiters: Pick<LogWaiters, 'active'>;
  /** Group commits of creates so far and creates waiting for one, for tests and the bench. */
  submits: Pick<SubmitBatcher, 'stats'>;
  /** The Prometheus metrics `GET /metrics` shows (docs/metrics.md). */
  metrics: ManagerMetrics;
  /** The history pruner's counts (sessions deleted, batches run), for tests. */
  history: Pick<HistoryPruner, 'pruned' | 'batches'>;
  close(): Promise<void>;
}

/**
 * The manager's composition root: database (a server, or embedded PGlite), Redis, the HTTP API,
 * the dispatcher, the report consumer, the reconciler and the webhook sender. close() drains:
 * the server stops accepting and finishes requests, then loops stop, then connections close.
 */
export async function startManager(config: ManagerConfig, log: Logger): Promise<RunningManager> {
  let embedded: EmbeddedPostgres | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(join(config.stateDir, 'pgdata'), await freePort());
    databaseUrl = embedded.url;
    log.info('embedded PostgreSQL (PGlite) started', { dataDir: join(config.stateDir, 'pgdata') });
  }
  // knex's own warnings (a refused connection while PostgreSQL is down) go to the log, once a line.
  const dbLog = (msg: unknown) => log.error('database', { err: String((msg as Error)?.message ?? msg) });
  const knexLog = { warn: dbLog, error: dbLog, deprecate() {}, debug() {} };
  const db = openDb(databaseUrl, embedded ? { ...EMBEDDED_POOL } : { min: 1, max: 16 }, knexLog);
  await migrateLatest(db);
  // A pool of generic-plan connections beside `db` (openGenericPlanDb says why); the embedded
  // database is one session, so there everything shares `db`. Their statements are reported as
  // the pool's (`query` events), as everything the manager runs.
  const genericPools: Db[] = [];
  const genericPlanPool = (connections: number): Db => {
    if (embedded) return db;
    const pool = openGenericPlanDb(databaseUrl, knexLog, connections);
    pool.on('query', (q: unknown) => db.emit('query', q));
    genericPools.push(pool);
    return pool;
  };
  // The dispatcher's pass reads, on one connection (SchedulerStore says why).
  const passDb = genericPlanPool(1);
  // Its runnable scans on one more, beside the survey (early-scans.ts); its placements on two
  // (agents are placed on in parallel).
  const scanDb = genericPlanPool(1);
  const placeDb = genericPlanPool(PLACE_CONNECTIONS);
  // The report statements run on their own (SessionStore.alone): on `db`'s 16 each text was
  // planned five times per connection, and again after each autoanalyze (benchmarks.md, round ten).
  // The reconciler's statements of every tick run there too (FleetStore says why).
  const reportDb = genericPlanPool(REPORT_CONNECTIONS);
  const redis = openRedis(config.redisUrl, { caFile: config.redisCaFile });
  redis.on('error', (err) => log.error('redis error', { err: String(err) }));
  const prefix = config.queuePrefix;
  // Metrics: one registry for this manager; scrapes read PostgreSQL and the reports queues.
  const metrics = new ManagerMetrics();
  const metricsStore = new MetricsStore(db);
  const scheduleMetrics = new ScheduleMetricsStore(db);
  const backlog = new ReportsBacklog(redis, prefix);
  metrics.attach({
    sessionCounts: () => metricsStore.sessionCounts(),
    agentSlots: () => metricsStore.agentSlots(),
    scheduleStates: () => scheduleMetrics.scheduleStates(),
    reportsBacklog: (ids) => backlog.counts(ids),
  });

  // What runs on one manager at a time holds a lease of its own (all released on close); a
  // periodic loop logs a failed pass as `<what> failed`.
  const leases: Lease[] = [];
  const lease = (name: string, ttlMs: number) => {
    const l = new Lease(redis, leaseKey(prefix, name), ttlMs);
    leases.push(l);
    return l;
  };
  const loop = (ms: number, what: string, task: () => Promise<unknown>, wanted?: () => boolean) =>
    new Loop(
      ms,
      async () => {
        await task();
      },
      (err) => log.error(`${what} failed`, { err: String(err) }),
      wanted,
    );

  const hub = new EventHub(new EventStore(db), redis, prefix, log);
  await hub.start();
  // The webhook sender reads its outbox when told deliveries were queued.
  const webhooks = new WebhookSender(new WebhookStore(db), log, {
    allowList: config.callbackAllowList,
    metrics,
  });
  // A commit here also tells the reconciler that its next tick has work to look at (reconciler.ts).
  let committed = () => {};
  const notifier = {
    eventsCommitted: (events?: readonly SessionEventRow[]) => {
      hub.notify(events);
      committed();
    },
    wantsEvents: () => hub.wantsEvents(),
    callbacksQueued: () => webhooks.hint(),
  };
  const sessions = new SessionStore(db, notifier, reportDb);
  const catalog = new CatalogStore(db);
  // The submit path reads the same keypair, policy and image for every request: cached for 2 s
  // there (BAI_SUBMIT_CACHE_MS; forgotten on every manager when an admin changes one).
  // Placement and the loops read fresh rows, so registry credentials an admin just changed are
  // the ones an agent pulls with.
  const submitCatalog = new CatalogStore(db, { cacheMs: config.submitCacheMs });
  const admissionStore = new AdmissionStore(genericPlanPool(1));
  const fleet = new FleetStore(db, reportDb);
  const queues = new AgentQueues(redis, prefix, (agentId) => fleet.scalingGroupOf(agentId));

  const arrays = new ArrayStore(db, notifier);
  const settler = new ArraySettler(arrays, sessions, log);
  hub.onCommittedElsewhere(() => settler.elsewhere());
  const dispatchLease = lease('dispatcher', 10_000);
  const dispatcher = new Dispatcher({
    scheduler: new SchedulerStore(db, sessions, { pass: passDb, scan: scanDb, place: placeDb }),
    sessions,
    catalog,
    queues,
    log,
    startLeadMs: config.startLeadMs,
    metrics,
    settleArrays: () => settler.settle(),
    withLease: (fn) => dispatchLease.run(fn),
    passPage: config.dispatchPage,
  });
  const kick = () => dispatcher.kick();
  hub.onCommittedElsewhere(() => dispatcher.elsewhere());
  const keys = new IdempotencyStore(db, config.idempotencyRetentionSeconds);
  const idempotency = new IdempotentCreates({ store: keys, sessions, log });
  const submits = new SubmitBatcher({
    store: new SessionBatchStore(db, sessions, keys),
    sessions,
    idempotency,
    log,
    kickDispatcher: (startsAt, groups) => dispatcher.wake(startsAt, groups),
  });
  const service = new SessionService({
    sessions,
    folders: new FolderStore(db),
    queries: new SessionQueries(db),
    catalog: submitCatalog,
    admission: new AdmissionReads((groups, keys) => admissionStore.facts(groups, keys)),
    queues,
    hub,
    log,
    idempotency,
    submits,
    kickDispatcher: (startsAt, groups) => dispatcher.wake(startsAt, groups),
    arrays: new ArrayService(arrays, sessions, kick),
  });
  // Schedules (docs/schedules.md): fired by the holder of their own lease; a short TTL so a
  // killed holder's successor takes over within a couple of periods of a fast schedule. The
  // lease only saves work: ScheduleStore.fire writes each instant once whoever passes.
  const schedules = new ScheduleStore(db);
  const scheduleFiring = new ScheduleFiring({
    schedules,
    sessions,
    service,
    catalog: submitCatalog,
    templates: new TemplateStore(db),
    log,
    metrics,
    kickDispatcher: kick,
  });
  const scheduleLease = lease('schedules', config.scheduleLeaseMs);
  const scheduleTicker = new ScheduleTicker({
    schedules,
    firing: scheduleFiring,
    log,
    tickMs: 1_000,
    withLease: (fn) => scheduleLease.run(fn),
  });
  hub.onSchedulesChanged((at) => scheduleTicker.wake(at));
  const handler = new ReportHandler({
    fleet,
    sessions,
    catalog,
    queues,
    log,
    metrics,
    onCapacityFreed: kick,
  });
  const inOrder = new KeyedSerializer();
  // One reports stream per agent: the stream a report came through names its sender.
  const reports = new ReportConsumers({
    redis,
    prefix,
    log,
    handle: (report, from) => {
      const key = 'sessionId' in report.data ? report.data.sessionId : from;
      return inOrder.run(key, () => handler.handle(report, from));
    },
  });
  for (const id of await fleet.agentIds()) reports.ensure(id);
  const discoverLoop = loop(1_000, 'agent discovery', () => reports.discover());

  const reconciler = new Reconciler({
    fleet,
    redis,
    prefix,
    sessions,
    catalog,
    queues,
    log,
    agentTimeoutMs: config.agentTimeoutMs,
    agentGraceMs: config.agentGraceMs,
    phaseTimeoutMs: config.phaseTimeoutMs,
    onCapacityFreed: kick,
  });
  const reconcileLease = lease('reconciler', Math.max(10_000, config.reconcileIntervalMs * 3));
  committed = () => reconciler.wake();
  hub.onCommittedElsewhere(() => reconciler.wake());
  const reconcileLoop = loop(Math.min(config.reconcileIntervalMs, 2_000), 'reconcile pass', async () => {
    if (await reconcileLease.acquire()) await reconciler.tick();
    else reconciler.forget();
  });
  const webhookLease = lease('webhooks', 10_000);
  // Another manager's commit may have queued deliveries that the lease holder sends.
  hub.onCommittedElsewhere(() => webhooks.hint());
  const webhookLoop = loop(
    300,
    'webhook pass',
    () => webhookLease.run(() => webhooks.pass()),
    () => webhooks.wantsRead(),
  );

  const logWaiters = new LogWaiters(redis, prefix);
  // History retention: ended sessions past BAI_HISTORY_RETENTION_DAYS, in bounded batches.
  const historyLease = lease('history', Math.max(30_000, config.historyPruneIntervalMs * 3));
  const history = new HistoryPruner({
    store: new HistoryStore(db),
    log,
    retentionDays: config.historyRetentionDays,
    batch: config.historyPruneBatch,
    holdLease: () => historyLease.acquire(),
  });
  const historyLoop = loop(config.historyPruneIntervalMs, 'history prune pass', () => history.pass());

  const app = createApp({
    db,
    redis,
    logWaiters,
    prefix,
    sessions,
    catalog,
    submitCatalog,
    queues,
    hub,
    service,
    bodyLimitBytes: config.bodyLimitBytes,
    rateLimitPerMinute: config.rateLimitPerMinute,
    log,
    metrics,
    metricsToken: config.metricsToken,
    schedules,
    scheduleFiring,
    schedulesChanged: (at) => {
      scheduleTicker.wake(at);
      hub.schedulesChanged(at);
    },
  });
  const drain = new HttpDrain(app.callback());
  const server: Server = createServer(drain.listener);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const url = `http://${config.host}:${port}`;

  discoverLoop.start();
  dispatcher.start();
  reconcileLoop.start();
  webhookLoop.start();
  scheduleTicker.start();
  if (config.historyRetentionDays > 0) historyLoop.start();
  log.info('manager listening', { url });

  let closing: Promise<void> | null = null;
  return {
    url,
    db,
    dispatcher,
    hub,
    logWaiters,
    submits,
    metrics,
    history,
    close() {
      closing ??= (async () => {
        const errors: unknown[] = [];
        const step = async (fn: () => Promise<unknown>) => {
          try {
            await fn();
          } catch (e) {
            errors.push(e);
          }
        };
        // Blocked log readers answer at once, so their requests do not hold the server open.
        logWaiters.close();
        await step(async () => {
          if (!(await drain.drain(server, config.shutdownGraceMs)))
            log.error('shutdown grace over: the connections still open were closed', {
              graceMs: config.shutdownGraceMs,
            });
        });
        await step(() => scheduleTicker.close());
        await step(() => dispatcher.close());
        await step(() => reconcileLoop.close());
        await step(() => webhookLoop.close());
        history.close();
        await step(() => historyLoop.close());
        await step(() => discoverLoop.close());
        await step(() => reports.close());
        await step(() => hub.close());
        await step(() => queues.close());
        await step(() => backlog.close());
        for (const l of leases) await step(() => l.release());
        await step(() => redis.quit());
        for (const pool of genericPools) await step(() => pool.destroy());
        await step(() => db.destroy());
        if (embedded) await step(() => embedded!.close());
        if (errors.length > 0) log.error('manager close', { errors: errors.map(String) });
      })();
      return closing;
    },
  };
}
