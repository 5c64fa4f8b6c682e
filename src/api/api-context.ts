import type { Redis } from 'ioredis';
import type { Logger } from '../log/logger.js';
import type { ManagerMetrics } from '../metrics/manager-metrics.js';
import { ArrayStore } from '../persistence/array-store.js';
import type { CatalogStore } from '../persistence/catalog-store.js';
import type { Db } from '../persistence/db.js';
import { EventStore } from '../persistence/event-store.js';
import { FolderStore } from '../persistence/folder-store.js';
import { InfraStore } from '../persistence/infra-store.js';
import { KeypairStore } from '../persistence/keypair-store.js';
import { SessionQueries } from '../persistence/session-queries.js';
import type { SessionStore } from '../persistence/session-store.js';
import { TemplateStore } from '../persistence/template-store.js';
import type { AgentQueues } from '../queue/agent-queues.js';
import type { LogWaiters } from '../queue/log-waiters.js';
import { hashToken } from './auth.js';
import type { EventHub } from './event-hub.js';
import type { SessionService } from './session-service.js';
import type { ScheduleFiring } from './schedule-firing.js';
import type { ScheduleStore } from '../persistence/schedule-store.js';

/** What the manager's composition root hands the API (`createApp`). */
export interface ApiDeps {
  db: Db;
  redis: Redis;
  prefix: string;
  sessions: SessionStore;
  catalog: CatalogStore;
  /** The submit path's cached catalog (the service reads it): admin changes, told by the hub, make it forget. */
  submitCatalog: Pick<CatalogStore, 'forget'>;
  queues: AgentQueues;
  hub: EventHub;
  /** Blocking reads of live output (`GET /session/{ref}/logs?after=&wait_ms=`). */
  logWaiters: LogWaiters;
  service: SessionService;
  bodyLimitBytes: number;
  rateLimitPerMinute: number;
  log: Logger;
  /** `GET /metrics` (absent: 404) and the HTTP request histogram. */
  metrics?: ManagerMetrics;
  /** Bearer token `GET /metrics` wants (BAI_METRICS_TOKEN); null: none. */
  metricsToken?: string | null;
  /** Schedules (docs/schedules.md): their rows, their firing (trigger), the ticker's wake-up. */
  schedules: ScheduleStore;
  scheduleFiring: ScheduleFiring;
  schedulesChanged: (nextRunAt: Date | null) => void;
}

/** What route handlers may use: stores, never the database handle. */
export interface ApiContext extends Omit<ApiDeps, 'db'> {
  queries: SessionQueries;
  events: EventStore;
  folders: FolderStore;
  keypairs: KeypairStore;
  infra: InfraStore;
  templates: TemplateStore;
  arrays: ArrayStore;
}

/** The stores the routes read and write, each over the one database handle. */
export function apiContextOf(deps: ApiDeps): ApiContext {
  const { db, ...rest } = deps;
  return {
    ...rest,
    queries: new SessionQueries(db),
    events: new EventStore(db),
    folders: new FolderStore(db),
    keypairs: new KeypairStore(db, hashToken),
    infra: new InfraStore(db),
    templates: new TemplateStore(db),
    arrays: new ArrayStore(db),
  };
}
