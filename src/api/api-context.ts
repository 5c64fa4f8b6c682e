import type { Redis } from 'ioredis';
import type { CatalogStore } from '../persistence/catalog-store.js';
import type { Db } from '../persistence/db.js';
import type { SessionStore } from '../persistence/session-store.js';
import type { AgentQueues } from '../queue/agent-queues.js';
import type { EventHub } from './event-hub.js';
import type { SessionService } from './session-service.js';

/** What route handlers may use: built once by the manager's composition root. */
export interface ApiContext {
  db: Db;
  redis: Redis;
  prefix: string;
  sessions: SessionStore;
  catalog: CatalogStore;
  queues: AgentQueues;
  hub: EventHub;
  service: SessionService;
  bodyLimitBytes: number;
  rateLimitPerMinute: number;
  log: {
    info(msg: string, extra?: Record<string, unknown>): void;
    error(msg: string, extra?: Record<string, unknown>): void;
  };
}
