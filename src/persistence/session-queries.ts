import type { ResolvedDependency } from '../domain/dependency-condition.js';
import type { SessionStatus } from '../domain/status.js';
import type { Db } from './db.js';
import type { SessionAttemptRow, SessionRow } from './rows.js';
import { attemptsOf } from './session-attempts.js';

/** Columns a session listing may be ordered by. */
export const SESSION_ORDER_COLUMNS = ['created_at', 'name', 'status', 'priority', 'terminated_at'] as const;
export type SessionOrderColumn = (typeof SESSION_ORDER_COLUMNS)[number];

/** A session listing's filter, already checked by the route: every field is a plain condition. */
export interface SessionListFilter {
  /** Only this keypair's sessions. */
  accessKey?: string;
  /** Only sessions of this domain (an admin's `all=true`). */
  domain?: string;
  statuses?: SessionStatus[];
  type?: string;
  tag?: string;
  name?: string;
  scalingGroup?: string;
  /** Only sessions this schedule created. */
  scheduleName?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  order: { column: SessionOrderColumn; descending: boolean };
  limit: number;
  offset: number;
}

/** A callback_url delivery as the API shows it. */
export interface WebhookDeliveryRow {
  id: number;
  url: string;
  body: string;
  attempts: number;
  outcome: string | null;
  last_error: string | null;
  delivered_at: Date | null;
  gave_up_at: Date | null;
}

/**
 * The API's reads around sessions that are not status changes: listings with filters, a
 * session's dependencies and its callback deliveries, a keypair's pending count. Status
 * changes stay in SessionStore.
 */
export class SessionQueries {
  constructor(private readonly db: Db) {}

  /** One page of sessions matching `f`, and how many match in all. */
  async list(f: SessionListFilter): Promise<{ rows: SessionRow[]; total: number }> {
    let q = this.db('sessions');
    if (f.accessKey !== undefined) q = q.where('access_key', f.accessKey);
    if (f.domain !== undefined) q = q.where('domain_name', f.domain);
    if (f.statuses && f.statuses.length > 0) q = q.whereIn('status', f.statuses);
    if (f.type) q = q.where('type', f.type);
    if (f.tag) q = q.where('tag', f.tag);
    if (f.name) q = q.where('name', f.name);
    if (f.scalingGroup) q = q.where('scaling_group', f.scalingGroup);
    if (f.scheduleName) q = q.where('schedule_name', f.scheduleName);
    if (f.createdAfter) q = q.where('created_at', '>=', f.createdAfter);
    if (f.createdBefore) q = q.where('created_at', '<', f.createdBefore);
    const total = (await q.clone().count('* as n').first()) as { n: string } | undefined;
    const rows = (await q
      .orderBy(f.order.column, f.order.descending ? 'desc' : 'asc')
      .limit(f.limit)
      .offset(f.offset)) as SessionRow[];
    return { rows, total: Number(total?.n ?? 0) };
  }

  /** The sessions `sessionId` waits for, each with its condition (in the order of their ids). */
  async dependencies(sessionId: string): Promise<ResolvedDependency[]> {
    return (await this.db('session_dependencies')
      .where({ session_id: sessionId })
      .orderBy('depends_on')
      .select('depends_on as id', 'condition')) as ResolvedDependency[];
  }

  /**
   * Every session that depends on `sessionId`, directly or through others, of the same keypair,
   * deepest first (Backend.AI's recursive destroy ends the dependents before the session).
   */
  async dependents(sessionId: string, accessKey: string): Promise<SessionRow[]> {
    const db = this.db;
    const rows = (await db
      .withRecursive('deps', ['id', 'depth'], (qb) => {
        void qb
          .select('session_id', db.raw('1'))
          .from('session_dependencies')
          .where('depends_on', sessionId)
          .union((u) => {
            void u
              .select('d.session_id', db.raw('deps.depth + 1'))
              .from('session_dependencies as d')
              .join('deps', 'd.depends_on', 'deps.id')
              .where('deps.depth', '<', 1000);
          });
      })
      .select('s.*')
      .max('deps.depth as dep_depth')
      .from('deps')
      .join('sessions as s', 's.id', 'deps.id')
      .where('s.access_key', accessKey)
      .groupBy('s.id')
      .orderBy([
        { column: 'dep_depth', order: 'desc' },
        { column: 's.created_at', order: 'desc' },
      ])) as (SessionRow & { dep_depth?: number })[];
    return rows.map(({ dep_depth: _depth, ...row }) => row);
  }

  /** A session's ended attempts, first to last. */
  async attempts(sessionId: string): Promise<SessionAttemptRow[]> {
    return attemptsOf(this.db, sessionId);
  }

  /** Every callback delivery of a session, oldest first. */
  async webhookDeliveries(sessionId: string): Promise<WebhookDeliveryRow[]> {
    const rows = (await this.db('webhook_deliveries')
      .where({ session_id: sessionId })
      .orderBy('id')
      .select(
        'id',
        'url',
        'body',
        'attempts',
        'outcome',
        'last_error',
        'delivered_at',
        'gave_up_at',
      )) as (WebhookDeliveryRow & { id: string | number })[];
    return rows.map((r) => ({ ...r, id: Number(r.id) }));
  }
}
