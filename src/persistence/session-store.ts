import type { Knex } from 'knex';
import type { ResolvedDependency } from '../domain/dependency-condition.js';
import { SessionNotFound, TooManySessionsMatched } from '../domain/errors.js';
import { isUuid } from '../domain/body-fields.js';
import { LIVE_STATUSES, predecessorsOf, type SessionResult, type SessionStatus } from '../domain/status.js';
import type { Db, Tx } from './db.js';
import { dependencyRows } from './dependency-sql.js';
import { toJsonColumns } from './json-columns.js';
import {
  byClusterPosition,
  MOVED_KERNEL_COLUMNS,
  type KernelRow,
  type MovedKernel,
  type SessionRow,
} from './rows.js';
import type { EventsNotifier } from './events-notifier.js';
import {
  backoffWait,
  recordFinalAttempt,
  recordRetriedAttempt,
  retriedAttemptRecord,
  type RetryOptions,
} from './session-attempts.js';
import { movePhasesIn, type PhasesMoved } from './session-phases.js';
import type { PhaseStep } from '../domain/phase-chain.js';
import {
  insertEvents,
  kernelEventRows,
  recordSessionEvents,
  sessionEventRows,
  type QueuedCallbacks,
} from './session-events.js';
import { insertSessionsAtOnce } from './session-batch.js';
import { exitAndTerminateIn, type ExitMove, type KernelExit } from './session-exit.js';
import { preparedRaw } from './prepared.js';

const LOCK_SESSION_SQL = 'SELECT * FROM sessions WHERE id = ? FOR UPDATE';

export interface TransitionOptions {
  info?: string | null;
  /** Merged into status_data. */
  data?: Record<string, unknown>;
  result?: SessionResult;
  exitCode?: number | null;
  /** Other columns to set in the same guarded UPDATE (jsonb columns as plain values). */
  set?: Partial<Record<keyof SessionRow, unknown>>;
  /** Restrict the move to these current statuses (default: every allowed predecessor). */
  from?: readonly SessionStatus[];
  /**
   * Also move every kernel of the session that may move to this status; `'all'`: every kernel
   * of the session, whatever its status (a retry resets them all).
   */
  kernels?: boolean | 'all';
  /** With `kernels`: other kernel columns to set in the same UPDATE (jsonb columns as plain values). */
  kernelSet?: Partial<Record<keyof KernelRow, unknown>>;
  /** When the status was entered, if not now (an agent reports phases it went through). */
  at?: Date;
}

/** A session that moved, with the kernels that moved along (main first, then subs by index). */
export interface Moved {
  session: SessionRow;
  kernels: MovedKernel[];
}

/**
 * The sessions table and its companions. Every status change is one guarded UPDATE
 * (`WHERE status IN (allowed predecessors)`), written with its events in one transaction, so a
 * replayed or duplicated report changes nothing.
 */
export class SessionStore {
  /**
   * `aloneDb`: the pool `alone` runs its statement on (default `db`): the manager gives it a
   * few connections that always use generic plans (openGenericPlanDb), so each report
   * statement's text is planned once per connection rather than five times on each of `db`'s.
   */
  constructor(
    private readonly db: Db,
    private readonly notifier: EventsNotifier = { eventsCommitted() {} },
    private readonly aloneDb: Db = db,
  ) {}

  /**
   * Inserts a PENDING session with its kernels, dependencies, event and callback delivery
   * (jsonb columns as plain values), in ONE statement (session-batch.ts): one round trip
   * instead of five (BEGIN, three INSERTs, COMMIT).
   */
  async insert(
    plainSession: Partial<SessionRow>,
    plainKernels: Partial<KernelRow>[],
    dependencies: readonly ResolvedDependency[],
  ): Promise<SessionRow> {
    const session = toJsonColumns(plainSession);
    const kernels = plainKernels.map((k) => toJsonColumns(k));
    const [row] = await insertSessionsAtOnce(this.db, [{ session, kernels, dependencies }]);
    this.notifier.eventsCommitted();
    if (row!.callback_url) this.notifier.callbacksQueued?.();
    return row!;
  }

  /** `insert` in a caller's transaction (jsonb columns as plain values); the caller notifies after commit. */
  async insertIn(
    trx: Tx,
    session: Partial<SessionRow>,
    kernels: Partial<KernelRow>[],
    dependencies: readonly ResolvedDependency[],
  ) {
    const [inserted] = await trx('sessions').insert(toJsonColumns(session)).returning('*');
    await trx('kernels').insert(kernels.map((k) => toJsonColumns(k)));
    if (dependencies.length > 0) {
      await trx('session_dependencies').insert(dependencyRows(session.id!, dependencies));
    }
    await recordSessionEvents(trx, inserted as SessionRow, 'PENDING', null);
    if (session.callback_url) this.notifier.callbacksQueued?.();
    return inserted as SessionRow;
  }

  /** Tells listeners that events were committed by a caller's own transaction. */
  notifyCommitted(): void {
    this.notifier.eventsCommitted();
  }

  /** Tells the webhook sender that a caller's statement or transaction queued deliveries. */
  notifyCallbacksQueued(): void {
    this.notifier.callbacksQueued?.();
  }

  async get(id: string): Promise<SessionRow | undefined> {
    return this.db<SessionRow>('sessions').where({ id }).first();
  }

  async kernels(sessionId: string): Promise<KernelRow[]> {
    return this.db<KernelRow>('kernels')
      .where({ session_id: sessionId })
      .orderBy([{ column: 'cluster_role' }, 'cluster_idx']);
  }

  /**
   * Resolves a session reference for its owner: a live session of that name, else the newest
   * session of that name, else an id or unique id prefix.
   */
  async resolve(ref: string, accessKey: string | null): Promise<SessionRow> {
    const scoped = (q: Knex.QueryBuilder) => (accessKey === null ? q : q.where('access_key', accessKey));
    const byName = (await scoped(this.db('sessions').where('name', ref)).orderByRaw(
      `CASE WHEN status IN (${LIVE_STATUSES.map(() => '?').join(',')}) THEN 0 ELSE 1 END, created_at DESC`,
      [...LIVE_STATUSES],
    )) as SessionRow[];
    if (byName.length > 0) {
      const live = byName.filter((s) => LIVE_STATUSES.includes(s.status));
      if (live.length > 1 && accessKey === null)
        throw new TooManySessionsMatched(live.map((s) => ({ id: s.id, name: s.name })));
      return byName[0]!;
    }
    if (isUuid(ref)) {
      const row = (await scoped(this.db('sessions').where('id', ref)).first()) as SessionRow | undefined;
      if (row) return row;
    } else if (/^[0-9a-f-]{4,35}$/i.test(ref)) {
      const rows = (await scoped(
        this.db('sessions').whereRaw('id::text LIKE ?', [`${ref.toLowerCase()}%`]),
      ).limit(10)) as SessionRow[];
      if (rows.length === 1) return rows[0]!;
      if (rows.length > 1) throw new TooManySessionsMatched(rows.map((s) => ({ id: s.id, name: s.name })));
    }
    throw new SessionNotFound(ref);
  }

  /** The live session of that name for its owner, if any (get-or-create). */
  async findLiveByName(
    accessKey: string,
    name: string,
    trx: Knex | Knex.Transaction = this.db,
  ): Promise<SessionRow | undefined> {
    return trx<SessionRow>('sessions')
      .where({ access_key: accessKey, name })
      .whereIn('status', [...LIVE_STATUSES])
      .orderBy('created_at', 'desc')
      .first();
  }

  /**
   * Guarded move of a session to `to`. Returns the updated row, or null when the session was not
   * in a status that may move there (a replay, a race lost, or a move that is not allowed).
   */
  async transition(id: string, to: SessionStatus, opts: TransitionOptions = {}): Promise<SessionRow | null> {
    const row = await this.db.transaction((trx) => this.transitionIn(trx, id, to, opts));
    if (row) this.notifier.eventsCommitted();
    return row;
  }

  /** The same guarded move inside a caller's transaction (the caller notifies after commit). */
  async transitionIn(
    trx: Knex.Transaction,
    id: string,
    to: SessionStatus,
    opts: TransitionOptions = {},
  ): Promise<SessionRow | null> {
    return (await this.moveIn(trx, id, to, opts))?.session ?? null;
  }

  /**
   * transitionIn that also returns the kernels moved along (`opts.kernels`), in the order of
   * `kernels()`, so a caller needs no second read of them.
   */
  async moveIn(
    trx: Knex.Transaction,
    id: string,
    to: SessionStatus,
    opts: TransitionOptions = {},
  ): Promise<Moved | null> {
    const from = (opts.from ?? predecessorsOf(to)).filter((s) => predecessorsOf(to).includes(s));
    if (from.length === 0) return null;
    const now = (opts.at ?? new Date()).toISOString();
    const set: Record<string, unknown> = {
      status: to,
      updated_at: trx.fn.now(),
      status_history: trx.raw(`status_history || ?::jsonb`, [JSON.stringify({ [to]: now })]),
      ...toJsonColumns(opts.set ?? {}),
    };
    if (opts.info !== undefined) set.status_info = opts.info;
    if (opts.data !== undefined)
      set.status_data = trx.raw(`status_data || ?::jsonb`, [JSON.stringify(opts.data)]);
    if (opts.result !== undefined) set.result = opts.result;
    if (opts.exitCode !== undefined) set.exit_code = opts.exitCode;
    if (to === 'TERMINATED' || to === 'CANCELLED') set.terminated_at = trx.fn.now();
    const [row] = (await trx('sessions')
      .where({ id })
      .whereIn('status', from)
      .update(set)
      .returning('*')) as SessionRow[];
    if (!row) return null;
    let kernels: MovedKernel[] = [];
    if (opts.kernels) {
      const q = trx('kernels').where({ session_id: id });
      if (opts.kernels !== 'all') q.whereIn('status', predecessorsOf(to));
      kernels = (
        (await q
          .update({
            status: to,
            status_info: opts.info ?? null,
            status_history: trx.raw(`status_history || ?::jsonb`, [JSON.stringify({ [to]: now })]),
            ...(to === 'TERMINATED' || to === 'CANCELLED' ? { terminated_at: trx.fn.now() } : {}),
            ...toJsonColumns(opts.kernelSet ?? {}),
          })
          .returning([...MOVED_KERNEL_COLUMNS])) as MovedKernel[]
      ).sort(byClusterPosition);
    }
    // The kernels moved along announce it too (SSE scope kernel or *), before the session, in
    // one INSERT with the session's events.
    const own = sessionEventRows(row, to, opts.info ?? null);
    await insertEvents(
      trx,
      [...kernelEventRows(row, kernels, to, opts.info ?? null), ...own.events],
      own.deliveries,
    );
    if (row.callback_url) this.notifier.callbacksQueued?.();
    await recordFinalAttempt(trx, row);
    return { session: row, kernels };
  }

  /**
   * A progress report's phases applied to the locked row `s` in three statements
   * (session-phases.ts); null when nothing moved. The caller notifies after commit.
   */
  async movePhasesIn(
    trx: Tx,
    s: SessionRow,
    steps: readonly PhaseStep[],
    containers: readonly { kernelId: string; containerId: string }[],
  ): Promise<PhasesMoved | null> {
    const out = await movePhasesIn(trx, s, steps, containers);
    if (out?.session.callback_url) this.notifier.callbacksQueued?.();
    return out;
  }

  /** Touches a row's update time (reconciler bookkeeping) only when still in `status`. */
  async touch(id: string, status: SessionStatus): Promise<boolean> {
    const n = await this.db('sessions').where({ id, status }).update({ updated_at: this.db.fn.now() });
    return n > 0;
  }

  /** Runs `fn` in one transaction; notifies listeners after commit when it returns truthy. */
  async inTransaction<T>(fn: (trx: Tx) => Promise<T>): Promise<T> {
    const out = await this.db.transaction(fn);
    if (out) this.notifier.eventsCommitted();
    return out;
  }

  /**
   * Runs ONE statement on its own (no transaction); notifies listeners when it returns truthy,
   * with the events it wrote when it returned them (`wantEvents`: asked for, someone listens),
   * and the webhook sender when what it returns says it queued deliveries (QueuedCallbacks).
   */
  async alone<T>(fn: (db: Db, wantEvents: boolean) => Promise<T>): Promise<T> {
    const out = await fn(this.aloneDb, this.notifier.wantsEvents?.() ?? false);
    const said = out as Partial<QueuedCallbacks> | null;
    if (out) this.notifier.eventsCommitted(said?.events);
    if (said?.callbacksQueued) this.notifier.callbacksQueued?.();
    return out;
  }

  /**
   * Locks the session row for the rest of `trx` (rows are locked session first, then kernels).
   * A named statement: every report's transaction starts with it (twice per session), and an
   * unnamed one was parsed and planned by PostgreSQL and built by knex on each call.
   */
  async lockIn(trx: Tx, id: string): Promise<SessionRow | undefined> {
    const { rows } = (await preparedRaw(trx, 'bai_lock_session', LOCK_SESSION_SQL, [id])) as {
      rows: SessionRow[];
    };
    return rows[0];
  }

  /**
   * A main kernel's exit and the locked session's move to TERMINATED with its kernels, events,
   * callback deliveries and attempt, in one statement (session-exit.ts); true when the session
   * moved. The caller notifies after commit.
   */
  async exitAndTerminateIn(trx: Tx, s: SessionRow, exit: KernelExit, move: ExitMove): Promise<boolean> {
    const moved = await exitAndTerminateIn(trx, s, exit, move);
    if (moved && s.callback_url) this.notifier.callbacksQueued?.();
    return moved;
  }

  /** What an agent says about a kernel that exited: its exit code and logs (not its status). */
  async recordKernelExitIn(
    trx: Tx,
    kernelId: string,
    exit: {
      exitCode: number;
      logs: string;
      logsTruncated: boolean;
      logsBytes: number | null;
      startedAt: Date | null;
    },
  ): Promise<void> {
    await trx('kernels')
      .where({ id: kernelId })
      .update({
        exit_code: exit.exitCode,
        logs: exit.logs,
        logs_truncated: exit.logsTruncated,
        logs_bytes: exit.logsBytes,
        ...(exit.startedAt ? { started_at: exit.startedAt } : {}),
      });
  }

  /** A sub kernel's output, read by the agent when the main ended (only a kernel of `sessionId`). */
  async recordKernelLogsIn(
    trx: Tx,
    sessionId: string,
    kernelId: string,
    out: { logs: string; logsTruncated: boolean; logsBytes: number },
  ): Promise<void> {
    await trx('kernels')
      .where({ id: kernelId, session_id: sessionId, cluster_role: 'sub' })
      .update({ logs: out.logs, logs_truncated: out.logsTruncated, logs_bytes: out.logsBytes });
  }

  /**
   * Sends a session back to PENDING for another attempt, in one guarded transition with its
   * events: the attempt is recorded, the retry time set, and every kernel of the session is
   * reset (off its agent, container and exit code, whatever its status) once the session's
   * guarded move succeeded. Null when it had moved on.
   */
  async requeueForRetry(s: SessionRow, retry: RetryOptions): Promise<SessionRow | null> {
    return this.inTransaction((trx) => this.requeueForRetryIn(trx, s, retry));
  }

  /** requeueForRetry inside a caller's transaction (the caller notifies after commit). */
  async requeueForRetryIn(trx: Tx, s: SessionRow, retry: RetryOptions): Promise<SessionRow | null> {
    await recordRetriedAttempt(trx, s, retry);
    const waits = backoffWait(retry);
    return this.transitionIn(trx, s.id, 'PENDING', {
      ...(retry.from ? { from: retry.from } : {}),
      info: 'retrying',
      data: waits.data,
      set: {
        attempt: s.attempt + 1,
        attempts: [...(s.attempts ?? []), retriedAttemptRecord(s, retry)],
        retry_after: retry.at,
        due_later: waits.dueLater,
        agent_id: null,
        started_at: null,
      },
      kernels: 'all',
      kernelSet: { agent_id: null, container_id: null, exit_code: null, occupied_slots: {} },
    });
  }
}
