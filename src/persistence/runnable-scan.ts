import type { Predicate } from '../domain/predicates.js';
import { ACTIVE_STATUSES } from '../domain/status.js';
import { arrayGateCtes } from './array-store.js';
import type { Db } from './db.js';
import type { RunnableSession } from './placement-commit.js';
import { preparedRaw } from './prepared.js';
import { pastStartDeadline, predicatesPastRoom, predicatesSql, queueOrder } from './scheduler-sql.js';
import { sqlList } from './sql-literals.js';
import { unindexedGuard } from './unindexed-guard.js';

/**
 * What the runnable scan reads of each candidate: what placement needs (RunnableSession) and
 * what its ranking and gates order and partition by, not the whole row (a pass reads every
 * session that can run but for capacity, to place a few: parsing each one's every column,
 * dates and jsonb, was a large part of the manager's work per pass).
 */
const RUNNABLE_COLUMNS = [
  'id',
  'requested_slots',
  'cluster_size',
  'architecture',
  'predicates',
  'domain_name',
  'image',
] as const satisfies readonly (keyof RunnableSession)[];
const CANDIDATE_COLUMNS = [
  ...RUNNABLE_COLUMNS.filter((c) => c !== 'predicates').map((c) => `s.${c}`),
  `s.status_data -> 'predicates' AS predicates`,
  // ranked and gated by (arrayGateCtes, the keypair's room)
  's.access_key',
  's.priority',
  's.created_at',
  's.array_index',
  's.array_parent_id',
].join(', ');

/** What the dispatcher gets of a runnable scan (SchedulerStore.runnable). */
export interface RunnableScan {
  rows: RunnableSession[];
  /** The sessions that can run but for capacity among those read (all of them when `more` is false). */
  total: number;
  /** Whether sessions that can run may follow the page (the pass reads past it if it leaves room). */
  more: boolean;
}

/** One runnable scan's answer: a page, how many can run in what it read, and how much it read. */
export interface ScanRows {
  rows: RunnableSession[];
  /** The sessions that can run but for capacity among the candidates read. */
  total: number;
  /** The PENDING sessions the head read (its size when it was cut there); with no head, the candidates. */
  read: number;
  /** The sessions whose predicates the statement wrote (past the page, their keypair's or array's room). */
  wrote: number;
}

/**
 * The runnable scan of one scaling group: the sessions that can run now but for capacity, in
 * the queue's order: due, past any backoff, every dependency's condition met, not past a start
 * deadline, within their array's parallelism and their keypair's room under
 * `max_concurrent_sessions` (ranked per keypair in the same order). Those beyond their
 * keypair's room get `keypair_concurrency` written, in the same statement. Only the first
 * `limit` come back (`total`: how many there are); those after them get `waiting` as their
 * predicates, in the same statement: the dispatcher reads them only when the first ones leave
 * an agent open to them (Dispatcher.passGroup).
 *
 * `head`: only the first `head` PENDING sessions of the group in the queue's order are read
 * (by `sessions_pending_queue_idx`, stopping there), not the whole backlog: every rank of a
 * candidate in the head (its keypair's, its array's, its place among those that can run)
 * depends only on the candidates before it, which the head holds too, so what can run in the
 * head is exactly the start of what can run in the whole queue. Null: the whole queue.
 * `from`: `open` leaves out of the head the keypairs at their concurrency limit (HeadSource),
 * whose sessions cannot run and rank only among their own keypair's, so the same holds.
 *
 * Each value bound is read through a sub-select: a custom plan then knows no more than the
 * generic one, so PostgreSQL's plan cache settles on the generic plan after its five first
 * calls on a connection instead of planning the scan anew on every pass (docs/benchmarks.md,
 * round six). The sessions beyond their keypair's room are picked by id from one scan of the
 * ranking (an array, read through sessions_pkey) and joined to `room` (a row per keypair), not
 * joined to the ranking itself: with the CTEs' row estimates of 1, that join was a nested loop
 * that re-read the whole ranking for every PENDING session of the group (round twelve).
 */
export async function scanRunnable(
  db: Db,
  head: number | null,
  at: { group: string; horizon: Date; now: Date },
  limit: number,
  waiting: readonly Predicate[],
  from: HeadSource = 'queue',
): Promise<ScanRows> {
  const waitingJson = JSON.stringify(waiting);
  const key = head === null ? 'all' : from === 'queue' ? `${head}` : `open_${head}`;
  const { rows } = (await preparedRaw(db, `bai_runnable_${key}`, textOf(head, from, key), [
    at.group,
    at.group,
    at.horizon,
    at.now,
    at.horizon,
    at.now,
    at.now,
    waitingJson,
    limit,
    waitingJson,
    waitingJson,
    limit,
  ])) as { rows: ((RunnableSession | { id: null }) & Counts)[] };
  // One row at least (its columns null when none can run): it says how many were read.
  const first = rows[0];
  return {
    rows: rows.filter((r): r is RunnableSession & Counts => r.id !== null),
    total: first?.total ?? 0,
    read: first?.read ?? 0,
    wrote: first?.wrote ?? 0,
  };
}

/** What each row of the statement also says of the whole read. */
type Counts = Pick<ScanRows, 'total' | 'read' | 'wrote'>;

/**
 * Where a head is read from: `queue`, the group's queue (pending_queue_head); `open`, the same
 * without the keypairs at their concurrency limit (pending_open_heads, migration
 * 20261202150000), whose sessions cannot run and would fill the head.
 */
export type HeadSource = 'queue' | 'open';

/** Each head's statement text, built once (it is fixed per head; the scan runs on every pass). */
const texts = new Map<string, string>();
function textOf(head: number | null, from: HeadSource, key: string): string {
  let text = texts.get(key);
  if (text === undefined) texts.set(key, (text = runnableSql(head, from)));
  return text;
}

/** The whole queue, as a head's bound. */
const WHOLE = 2_147_483_647;

/**
 * The candidates of the group (CTE `cand0`): its PENDING sessions that are due, past any
 * backoff, with every dependency's condition met (as the survey found it: `deps_met`, migration
 * 20261202180000, so no dependency is read here) and not past a start deadline. With `head`,
 * only those among the first `head` PENDING sessions of the group in the queue's order (CTE
 * `qh`: pending_queue_head, which reads sessions_pending_queue_idx alone in its order and
 * stops there, whatever the statistics say; migration 20261202120000), so how many were read
 * says whether the head was cut; their rows are then read by id (an array, through
 * sessions_pkey, their status a guard no index matches: an `IN` was planned as a hash join
 * over every PENDING session, and a plain status check as a read of every PENDING session
 * through a status index). Without `head`, the whole queue, read the same way.
 *
 * The arrays' children are not in the queue (migration 20261203080000): CTE `qa` reads, of
 * each array of the group, its first children that are due, as many as its parallelism leaves
 * room for and at most `head` (pending_array_heads; `cut` marks one more when there are more
 * within its room, and the head is then cut). Those past the room cannot run whatever else
 * waits, so leaving them out changes no rank; a child that sorts after the queue's head when
 * the head was cut is left out too (`cutk`: the head's last session), as the head leaves out
 * every session after it. Without `head`, every child of the arrays, room or not (their
 * predicates are written). Bindings: the group, the group again, the horizon, the instant;
 * the horizon, the instant twice.
 */
function candidateCtes(head: number | null, from: HeadSource): string {
  const due = `(s.starts_at IS NULL OR s.starts_at <= (SELECT ?::timestamptz))
            AND (s.retry_after IS NULL OR s.retry_after <= (SELECT ?::timestamptz))
            AND (NOT s.has_dependencies OR s.deps_met)
            AND NOT ${pastStartDeadline('(SELECT ?::timestamptz)')}`;
  const bound = head ?? WHOLE;
  // The keypairs' heads come unordered, each keypair's first `head`: the first `head` of them
  // in the queue's order are the group's (a sort of at most `head` a keypair). The whole queue
  // is the queue's head without a bound: read from the queue's index whatever the statistics
  // say, where a plain read of the group's PENDING sessions could read them through another
  // index, with those whose dependencies are not met (round twenty-four).
  const qh =
    from === 'queue' || head === null
      ? `SELECT h.id, h.n FROM pending_queue_head((SELECT ?::text), ${bound}) WITH ORDINALITY AS h (id, n)`
      : `SELECT h.id, row_number() OVER (ORDER BY ${queueOrder('h')}) AS n
           FROM pending_open_heads((SELECT ?::text), ${head}) AS h
          ORDER BY ${queueOrder('h')} LIMIT ${head}`;
  // In the queue's order: -priority, created_at, array_index (nulls last), id.
  const key = (t: string) =>
    `(-${t}.priority, ${t}.created_at, coalesce(${t}.array_index, ${WHOLE}), ${t}.id)`;
  return `qh AS MATERIALIZED (
         ${qh}
       ), qa AS MATERIALIZED (
         SELECT a.id, a.cut FROM pending_array_heads((SELECT ?::text), ${bound},
                                                     (SELECT ?::timestamptz), (SELECT ?::timestamptz)) AS a
       ), cutk AS MATERIALIZED (
         SELECT s.priority, s.created_at, s.array_index, s.id FROM sessions s
          WHERE s.id = (SELECT id FROM qh ORDER BY n DESC LIMIT 1)
            AND (SELECT count(*) FROM qh) >= ${bound}
       ), cand0 AS MATERIALIZED (
         SELECT ${CANDIDATE_COLUMNS} FROM sessions s
          WHERE s.id = ANY (ARRAY(SELECT id FROM qh UNION ALL SELECT id FROM qa WHERE NOT cut))
            AND ${unindexedGuard(`s.status = 'PENDING'`)}
            AND ${due}
            AND (s.array_parent_id IS NULL OR NOT EXISTS (SELECT 1 FROM cutk k WHERE ${key('s')} > ${key('k')}))
       )`;
}

/**
 * How much the scan read: the queue's sessions, and the arrays' children when the whole queue is
 * read; a head cut by an array (more children within its room than the head) counts as full.
 */
function readSql(head: number | null): string {
  return head === null
    ? `((SELECT count(*) FROM qh) + (SELECT count(*) FROM qa))`
    : `CASE WHEN EXISTS (SELECT 1 FROM qa WHERE cut) THEN greatest((SELECT count(*) FROM qh), ${head})
            ELSE (SELECT count(*) FROM qh) END`;
}

function runnableSql(head: number | null, from: HeadSource): string {
  const limitPreds = predicatesSql('keypairConcurrency', { limit: 'r.kp_limit' });
  const arrayPreds = predicatesSql('arrayParallelism', { limit: 'r.arr_limit' });
  // Array parents are never placed (nor counted as the keypair's sessions); array children
  // pass the array's parallelism gate (arrayGateCtes) before the keypair's.
  // A keypair's live sessions are counted from sessions_owner_active_idx (migration 20261202120000),
  // which holds those alone: through sessions_live_counts_idx it read every live session.
  return `WITH ${candidateCtes(head, from)}, ${arrayGateCtes('cand0', 'cand', arrayPreds)}, room AS MATERIALIZED (
         SELECT k.access_key, p.max_concurrent_sessions AS kp_limit,
                p.max_concurrent_sessions
                  - (SELECT count(*) FROM sessions a WHERE a.access_key = k.access_key
                       AND a.status IN (${sqlList(ACTIVE_STATUSES)}) AND a.array_size IS NULL) AS kp_room
           FROM keypairs k JOIN keypair_resource_policies p ON p.name = k.resource_policy
          WHERE k.access_key IN (SELECT DISTINCT access_key FROM cand)
       ), ranked AS (
         SELECT c.*, r.kp_limit,
                row_number() OVER (PARTITION BY c.access_key ORDER BY ${queueOrder('c')}) AS kp_rank,
                coalesce(r.kp_room, 2147483647) AS kp_room
           FROM cand c LEFT JOIN room r ON r.access_key = c.access_key
       ), over_limit AS (
         ${predicatesPastRoom({ ranked: 'ranked', rank: 'kp_rank', room: 'kp_room', roomCte: 'room', joinOn: 'r.access_key = s.access_key', preds: limitPreds })}
       ), runnable AS MATERIALIZED (
         SELECT r.*, row_number() OVER (ORDER BY ${queueOrder('r')}) AS pos
           FROM ranked r WHERE r.kp_rank <= r.kp_room
       ), beyond AS (
         UPDATE sessions s SET status_data = s.status_data || jsonb_build_object('predicates', (SELECT ?::jsonb))
          WHERE s.id = ANY (ARRAY(SELECT id FROM runnable
                                   WHERE pos > (SELECT ?::int) AND predicates IS DISTINCT FROM (SELECT ?::jsonb)))
            AND ${unindexedGuard(`s.status = 'PENDING'`)}
            AND (s.status_data -> 'predicates') IS DISTINCT FROM (SELECT ?::jsonb)
         RETURNING s.id
       )
       SELECT ${RUNNABLE_COLUMNS.map((c) => `p.${c}`).join(', ')}, n.total, n.read, n.wrote
         FROM (SELECT (SELECT count(*) FROM runnable)::int AS total, (${readSql(head)})::int AS read,
                      ((SELECT count(*) FROM beyond) + (SELECT count(*) FROM over_limit)
                        + (SELECT count(*) FROM arr_over))::int AS wrote) n
         LEFT JOIN LATERAL (SELECT * FROM runnable WHERE pos <= (SELECT ?::int)) p ON true
        ORDER BY p.pos`;
}
