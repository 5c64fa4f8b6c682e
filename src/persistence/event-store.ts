import { preparedRaw } from './prepared.js';
import type { Db } from './db.js';
import type { SessionEventRow } from './rows.js';

/** What the event tail reads: the session_events log by id. */
export interface EventLog {
  /** The highest event id so far (0 when there is none). */
  maxId(): Promise<number>;
  /** Up to `limit` events with ids above `afterId`, in id order. */
  after(afterId: number, limit: number): Promise<SessionEventRow[]>;
  /** The events with these ids that exist now, in id order. */
  byIds(ids: number[]): Promise<SessionEventRow[]>;
}

/** A stream's replay: one keypair's events up to the hub's horizon, optionally one session's. */
export interface BacklogQuery {
  accessKey: string;
  upTo: number;
  afterId: number | null;
  sessionId: string | null;
  limit: number;
}

/** The session_events table, read (events are written with their transitions by SessionStore). */
export class EventStore implements EventLog {
  constructor(private readonly db: Db) {}

  async maxId(): Promise<number> {
    const row = (await this.db('session_events').max('id as max').first()) as
      { max: number | null } | undefined;
    return Number(row?.max ?? 0);
  }

  /** The tail's read, after every commit someone follows and every slow poll: named. */
  async after(afterId: number, limit: number): Promise<SessionEventRow[]> {
    const { rows } = (await preparedRaw(
      this.db,
      'bai_events_after',
      'SELECT * FROM session_events WHERE id > ? ORDER BY id LIMIT ?',
      [afterId, limit],
    )) as { rows: SessionEventRow[] };
    return rows;
  }

  async byIds(ids: number[]): Promise<SessionEventRow[]> {
    if (ids.length === 0) return [];
    const { rows } = (await preparedRaw(
      this.db,
      'bai_events_by_ids',
      'SELECT * FROM session_events WHERE id = ANY(?::bigint[]) ORDER BY id',
      [ids],
    )) as { rows: SessionEventRow[] };
    return rows;
  }

  async backlog(b: BacklogQuery): Promise<SessionEventRow[]> {
    let q = this.db('session_events')
      .where('access_key', b.accessKey)
      .where('id', '<=', b.upTo)
      .orderBy('id');
    if (b.afterId !== null) q = q.where('id', '>', b.afterId);
    if (b.sessionId !== null) q = q.where('session_id', b.sessionId);
    return (await q.limit(b.limit)) as SessionEventRow[];
  }
}
