import type { Knex } from 'knex';
import type { ResolvedDependency } from '../domain/dependency-condition.js';
import { dependencyRows } from './dependency-sql.js';
import { arrayChildName, type ArrayChildrenState, type ArraySpec } from '../domain/array-spec.js';
import { InvalidRequest } from '../domain/errors.js';
import { kernelEventName, sessionEventName } from '../domain/events.js';
import { ACTIVE_STATUSES, predecessorsOf, SESSION_STATUSES, type SessionStatus } from '../domain/status.js';
import type { Db, Tx } from './db.js';
import { preparedRaw } from './prepared.js';
import { predicatesPastRoom, queueOrder } from './scheduler-sql.js';
import { toJsonColumns } from './json-columns.js';
import type { KernelRow, SessionRow } from './rows.js';
import { eventDataSql, recordSessionEvents } from './session-events.js';
import { sqlList } from './sql-literals.js';
import { unindexedGuard } from './unindexed-guard.js';
import type { EventsNotifier } from './events-notifier.js';

/** Columns of the parent a child does not copy as they are (it has its own, or none). */
const NOT_COPIED = new Set(['id', 'name', 'environ', 'callback_url', 'array_size', 'array_parallelism']);

/** One child of an array as the parent's info lists it. */
export interface ArrayChildRow {
  id: string;
  name: string;
  array_index: number;
  status: SessionStatus;
  result: SessionRow['result'];
  exit_code: number | null;
}

/** A parent that is not over, with what its children say (the settle step's read). */
export interface OpenParent extends ArrayChildrenState {
  id: string;
  status: SessionStatus;
}

/**
 * Array jobs in PostgreSQL: the parent and its children written in one transaction, set-based
 * (one INSERT per table whatever the size), the children cancelled set-based, and what the
 * parent's info and the settle step read about them.
 */
export class ArrayStore {
  private changes = 0;

  constructor(
    private readonly db: Db,
    private readonly notifier: EventsNotifier = { eventsCommitted() {} },
  ) {}

  /**
   * Counts the array inserts this process began and committed: a settle step that found no
   * array to follow reads again when it changed (ArraySettler), not on every pass.
   */
  get insertions(): number {
    return this.changes;
  }

  /** An insertIn's transaction committed (its caller says so, after the commit). */
  noteCommitted(): void {
    this.changes++;
  }

  /**
   * Inserts the parent (no kernels: it is never placed) with its event, then its children from
   * it in one statement: each a copy of the parent's row with its own id, name
   * (`<name>-<index>`), index and BAI_ARRAY_* variables, no callback_url (the parent's
   * callbacks speak for the array); each with the kernels of `kernelTemplate`, the parent's
   * dependencies and its session_enqueued event.
   */
  async insert(
    plainParent: Partial<SessionRow>,
    kernelTemplate: Partial<KernelRow>[],
    dependencies: readonly ResolvedDependency[],
    spec: ArraySpec,
  ): Promise<SessionRow> {
    const row = await this.db.transaction((trx) =>
      this.insertIn(trx, plainParent, kernelTemplate, dependencies, spec),
    );
    this.noteCommitted();
    this.notifier.eventsCommitted();
    return row;
  }

  /** `insert` inside the caller's transaction (which notifies after its commit). */
  async insertIn(
    trx: Tx,
    plainParent: Partial<SessionRow>,
    kernelTemplate: Partial<KernelRow>[],
    dependencies: readonly ResolvedDependency[],
    spec: ArraySpec,
  ): Promise<SessionRow> {
    this.changes++;
    const parent = toJsonColumns({
      ...plainParent,
      array_size: spec.size,
      array_parallelism: spec.parallelism,
    });
    const [inserted] = (await trx('sessions').insert(parent).returning('*')) as SessionRow[];
    if (dependencies.length > 0)
      await trx('session_dependencies').insert(dependencyRows(parent.id!, dependencies));
    await recordSessionEvents(trx, inserted!, 'PENDING', null);
    if (inserted!.callback_url) this.notifier.callbacksQueued?.();
    await this.insertChildren(trx, inserted!, Object.keys(parent), kernelTemplate, dependencies, spec);
    return inserted!;
  }

  private async insertChildren(
    trx: Tx,
    parent: SessionRow,
    parentColumns: string[],
    kernelTemplate: Partial<KernelRow>[],
    dependencies: readonly ResolvedDependency[],
    spec: ArraySpec,
  ): Promise<void> {
    const copied = parentColumns.filter((c) => !NOT_COPIED.has(c) && /^[a-z_]+$/.test(c));
    const kernelCols = Object.keys(kernelTemplate[0] ?? {}).filter(
      (c) => !['id', 'session_id'].includes(c) && /^[a-z_]+$/.test(c),
    );
    const cols = [...copied, 'id', 'name', 'environ', 'array_parent_id', 'array_index'];
    const exprs = [
      ...copied.map((c) => `p.${c}`),
      'gen_random_uuid()',
      `p.name || '-' || i`,
      `p.environ || jsonb_build_object('BAI_ARRAY_INDEX', i::text, 'BAI_ARRAY_SIZE', ?::text)`,
      'p.id',
      'i',
    ];
    const sql = `WITH c AS (
        INSERT INTO sessions (${cols.join(', ')})
        SELECT ${exprs.join(', ')} FROM sessions p, generate_series(?::int, ?::int) AS i
         WHERE p.id = ?
        RETURNING *
      ), k AS (
        INSERT INTO kernels (id, session_id, ${kernelCols.join(', ')})
        SELECT gen_random_uuid(), c.id, ${kernelCols.map((x) => `t.${x}`).join(', ')}
          FROM c CROSS JOIN jsonb_populate_recordset(NULL::kernels, ?::jsonb) AS t
      ), d AS (
        INSERT INTO session_dependencies (session_id, depends_on, condition)
        SELECT c.id, x.dep, x.cond FROM c CROSS JOIN unnest(?::uuid[], ?::text[]) AS x(dep, cond)
      ), e AS (
        INSERT INTO session_events (session_id, access_key, name, data)
        SELECT c.id, c.access_key, ?, ${eventDataSql('c')} FROM c ORDER BY c.array_index
      )
      SELECT count(*)::int AS n FROM c`;
    const first = spec.start;
    const last = spec.start + spec.size - 1;
    try {
      await trx.raw(sql, [
        String(spec.size),
        first,
        last,
        parent.id,
        JSON.stringify(kernelTemplate.map((k) => toJsonColumns(k))),
        // PostgreSQL array literals: knex would spread a JS array into a list of bindings.
        `{${dependencies.map((d) => d.id).join(',')}}`,
        `{${dependencies.map((d) => d.condition).join(',')}}`,
        sessionEventName('PENDING')!,
      ]);
    } catch (err) {
      // A live session already has a child's name (`<name>-<index>`): say which, as a 400.
      if ((err as { constraint?: string }).constraint === 'sessions_live_name_uq') {
        const detail = String((err as { detail?: string }).detail ?? '');
        const m = /=\([^,]*, (.*)\) already exists/.exec(detail);
        const taken = m?.[1] ?? `${arrayChildName(parent.name, first)}…`;
        throw new InvalidRequest(
          `array: a live session named "${taken}" exists, and a child of this array would take that name.`,
        );
      }
      throw err;
    }
  }

  /**
   * Cancels every PENDING child of `parentId` (with their kernels and events) in one
   * statement; returns how many. Inside the caller's transaction (it notifies after commit).
   */
  async cancelPendingChildrenIn(trx: Tx | Knex, parentId: string, info: string): Promise<number> {
    const now = new Date().toISOString();
    const history = JSON.stringify({ CANCELLED: now });
    // Three statements over real tables (indexed), not CTEs joined to one another: the
    // planner cannot estimate a CTE's rows and a 10,000-row join of two went quadratic.
    const { rows } = (await trx.raw(
      `UPDATE sessions SET status = 'CANCELLED', status_info = ?, result = 'FAILURE',
              status_history = status_history || ?::jsonb, terminated_at = now(), updated_at = now()
        WHERE array_parent_id = ? AND status = 'PENDING'
       RETURNING id`,
      [info, history, parentId],
    )) as { rows: { id: string }[] };
    if (rows.length === 0) return 0;
    const ids = `{${rows.map((r) => r.id).join(',')}}`;
    await trx.raw(
      `UPDATE kernels SET status = 'CANCELLED', status_info = ?,
              status_history = status_history || ?::jsonb, terminated_at = now()
        WHERE session_id = ANY(?::uuid[]) AND status IN (${sqlList(predecessorsOf('CANCELLED'))})`,
      [info, history, ids],
    );
    await trx.raw(
      `INSERT INTO session_events (session_id, kernel_id, access_key, name, data)
       SELECT session_id, kernel_id, access_key, name, data FROM (
         SELECT c.id AS session_id, k.id AS kernel_id, c.access_key, ? AS name,
                ${eventDataSql('c')} || jsonb_build_object('kernelId', k.id, 'clusterRole', k.cluster_role,
                  'clusterIdx', k.cluster_idx, 'exitCode', coalesce(k.exit_code, c.exit_code)) AS data,
                c.array_index, 0 AS ord, k.cluster_role, k.cluster_idx
           FROM sessions c JOIN kernels k ON k.session_id = c.id
          WHERE c.id = ANY(?::uuid[])
         UNION ALL
         SELECT c.id, NULL, c.access_key, ?, ${eventDataSql('c')}, c.array_index, 1, NULL, NULL
           FROM sessions c WHERE c.id = ANY(?::uuid[])
       ) x ORDER BY array_index, ord, cluster_role, cluster_idx`,
      [kernelEventName('CANCELLED')!, ids, sessionEventName('CANCELLED')!, ids],
    );
    return rows.length;
  }

  /** cancelPendingChildrenIn in a transaction of its own (listeners notified after commit). */
  async cancelPendingChildren(parentId: string, info: string): Promise<number> {
    const n = await this.db.transaction((trx) => this.cancelPendingChildrenIn(trx, parentId, info));
    if (n > 0) this.notifier.eventsCommitted();
    return n;
  }

  /** Children of the parent that are placed and not over (they need the destroy path). */
  async activeChildren(parentId: string): Promise<SessionRow[]> {
    return (await this.db('sessions')
      .where({ array_parent_id: parentId })
      .whereIn('status', [...ACTIVE_STATUSES, 'ERROR'])
      .orderBy('array_index')) as SessionRow[];
  }

  /** Whether the parent has children that are placed and not over. */
  async hasActiveChildren(trx: Tx, parentId: string): Promise<boolean> {
    const row = (await trx('sessions')
      .where({ array_parent_id: parentId })
      .whereIn('status', [...ACTIVE_STATUSES, 'ERROR'])
      .first('id')) as { id: string } | undefined;
    return row !== undefined;
  }

  /**
   * The settle step's read, one statement: every parent not over, with whether any child is
   * still open (0 or 1), whether one ran, and once none is open the failed child of the lowest
   * index; and the parents that ended or are being cancelled and still have PENDING children
   * (`stray`). Each part reads a parent's few children of an index of its own
   * (sessions_array_open_idx: those not over; sessions_array_placed_idx: those ever placed),
   * not all of them: a fan-out of thousands waiting for its room, its build job or
   * its time cost every pass a read of each of its children (docs/benchmarks.md, round
   * twenty-five).
   */
  async openParents(): Promise<{ open: OpenParent[]; stray: string[] }> {
    // A function (migration 20261203080000): each of its reads is planned with sorting off,
    // through the one index that gives the order it asks for.
    const { rows } = (await preparedRaw(
      this.db,
      'bai_open_parents',
      `SELECT parent_id AS id, parent_status AS status, open, ran, failed_index, failed_exit, stray
         FROM array_parents_to_settle()`,
    )) as {
      rows: {
        id: string;
        status: SessionStatus;
        open: number;
        ran: boolean;
        failed_index: number | null;
        failed_exit: number | null;
        stray: boolean;
      }[];
    };
    return {
      open: rows
        .filter((r) => r.status === 'PENDING' || r.status === 'RUNNING' || r.status === 'TERMINATING')
        .map((r) => ({
          id: r.id,
          status: r.status,
          open: r.open,
          ran: r.ran,
          firstFailed: r.failed_index === null ? null : { index: r.failed_index, exitCode: r.failed_exit },
        })),
      stray: rows.filter((r) => r.stray).map((r) => r.id),
    };
  }

  /** The children's count by status (every status present, 0 when none) and the first index. */
  async counts(parentId: string): Promise<{ counts: Record<SessionStatus, number>; start: number }> {
    const rows = (await this.db('sessions')
      .where({ array_parent_id: parentId })
      .groupBy('status')
      .select('status', this.db.raw('count(*)::int AS n'), this.db.raw('min(array_index) AS first'))) as {
      status: SessionStatus;
      n: number;
      first: number;
    }[];
    const counts = Object.fromEntries(SESSION_STATUSES.map((s) => [s, 0])) as Record<SessionStatus, number>;
    let start = Infinity;
    for (const r of rows) {
      counts[r.status] = r.n;
      start = Math.min(start, r.first);
    }
    return { counts, start: Number.isFinite(start) ? start : 0 };
  }

  /** A page of the children in index order. */
  async children(parentId: string, limit: number, offset: number): Promise<ArrayChildRow[]> {
    return (await this.db('sessions')
      .where({ array_parent_id: parentId })
      .orderBy('array_index')
      .limit(limit)
      .offset(offset)
      .select('id', 'name', 'array_index', 'status', 'result', 'exit_code')) as ArrayChildRow[];
  }

  /** The parent of a child, as its info names it. */
  async parentOf(parentId: string): Promise<Pick<SessionRow, 'id' | 'name' | 'array_size'> | undefined> {
    return (await this.db('sessions').where({ id: parentId }).first('id', 'name', 'array_size')) as
      Pick<SessionRow, 'id' | 'name' | 'array_size'> | undefined;
  }
}

/**
 * The dispatcher's array gate, as CTEs for its candidate scan: from the candidates `from`
 * (sessions rows), `to` keeps those that are not array children, and of each array's children
 * (in the queue's order, runnable-scan.ts: within an array, index order) as many as its
 * parallelism leaves room for, counting its children placed and not over; children of a parent
 * that is not PENDING or RUNNING are left out (the settle step cancels them). Those beyond the
 * room get `preds` (an expression over `r.arr_limit`) written as their predicates, in the same
 * statement: picked by id from one scan of the ranking and joined to their array's row of
 * `arr_room`, so a pass reads each candidate once (a join to the ranking itself re-read it for
 * every PENDING session); the join to `arr_room` is a guard no index matches (as a join on the
 * children's parent, it was planned as a read of every child of every array). The parents are
 * read by id: their status is a guard no index matches (a plan from statistics that saw few
 * live sessions read every live session to find them). Their room counts their placed children
 * (array_active; pending_array_heads counted it too, for the head: one probe of a few rows each).
 */
export function arrayGateCtes(from: string, to: string, preds: string): string {
  return `arr_room AS MATERIALIZED (
      SELECT p.id AS parent_id, p.array_parallelism AS arr_limit,
             coalesce(p.array_parallelism, 2147483647)
               - array_active(p.id) AS room
        FROM sessions p
       WHERE p.id IN (SELECT DISTINCT array_parent_id FROM ${from} WHERE array_parent_id IS NOT NULL)
         AND ${unindexedGuard(`p.status IN ('PENDING', 'RUNNING')`)}
    ), arr_ranked AS (
      SELECT c.id, c.array_parent_id, r.arr_limit, r.room,
             row_number() OVER (PARTITION BY c.array_parent_id ORDER BY ${queueOrder('c')}) AS arr_rank
        FROM ${from} c JOIN arr_room r ON r.parent_id = c.array_parent_id
    ), arr_over AS (
      ${predicatesPastRoom({ ranked: 'arr_ranked', rank: 'arr_rank', room: 'room', roomCte: 'arr_room', joinOn: unindexedGuard('r.parent_id = s.array_parent_id'), preds })}
    ), ${to} AS (
      SELECT c.* FROM ${from} c
       WHERE c.array_parent_id IS NULL
          OR c.id IN (SELECT id FROM arr_ranked WHERE arr_rank <= room)
    )`;
}
