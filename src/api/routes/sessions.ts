import Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidRequest } from '../../domain/errors.js';
import { IDEMPOTENCY_HEADER } from '../../domain/idempotency.js';
import { isSessionStatus, type SessionStatus } from '../../domain/status.js';
import type { SessionRow } from '../../persistence/rows.js';
import {
  SESSION_ORDER_COLUMNS,
  type SessionListFilter,
  type SessionOrderColumn,
} from '../../persistence/session-queries.js';
import { truncationMarker } from '../../domain/output-tail.js';
import { loggedBytes, readLogPage } from '../../queue/log-stream.js';
import { logStreamKey } from '../../queue/names.js';

/** Output per incremental read; the live copy of a running kernel is read whole (it is capped). */
const PAGE_BYTES = 1024 * 1024;
const LIVE_BYTES = 64 * 1024 * 1024;
import type { ApiContext } from '../api-context.js';
import { requestScopeOf } from '../request-context.js';
import type { Principal } from '../auth.js';
import { clientGone, queryFlag, queryOf } from '../params.js';
import { followLogs } from '../log-follow.js';
import { sessionInfo, sessionSummary } from '../session-view.js';
import { arrayInfo } from '../array-view.js';

function principal(ctx: Context): Principal {
  return ctx.state.principal as Principal;
}

const query = queryOf;

/** The longest blocking read of live output one request may ask for (`wait_ms`). */
const MAX_WAIT_MS = 20_000;

function waitMsOf(ctx: Context): number {
  const raw = query(ctx, 'wait_ms');
  if (raw === undefined) return 0;
  const ms = Number(raw);
  if (!/^\d+$/.test(raw) || ms > MAX_WAIT_MS)
    throw new InvalidRequest(`wait_ms must be a whole number of milliseconds from 0 to ${MAX_WAIT_MS}.`);
  return ms;
}

/** The session a request names, seen through its owner's eyes (others' sessions are 404). */
async function target(api: ApiContext, ctx: Context): Promise<SessionRow> {
  const p = principal(ctx);
  const ownerParam = query(ctx, 'owner_access_key') ?? query(ctx, 'ownerAccessKey');
  const owner = await api.service.ownerOf(p, ownerParam);
  // The router has decoded the parameter already; decoding twice would throw on a literal "%".
  const ref = ctx.params.ref ?? '';
  if (ref.length > 256) throw new InvalidRequest('The session reference is longer than 256 characters.');
  return api.sessions.resolve(ref, owner);
}

/** Backend.AI's session routes plus the session list bai offers as REST. */
export function sessionRoutes(api: ApiContext): Router {
  const r = new Router();

  const create = async (ctx: Context) => {
    // A client that goes away before the answer ends the wait (maxWaitSeconds 0 has no other limit).
    const key = ctx.headers[IDEMPOTENCY_HEADER];
    const t0 = performance.now();
    const { answer, status } = await api.service.create(
      principal(ctx),
      ctx.state.body,
      clientGone(ctx),
      Array.isArray(key) ? key.join(', ') : key,
      requestScopeOf(ctx),
    );
    // The server's own time for the request (the bench reads it: docs/benchmarks.md).
    ctx.set('Server-Timing', `create;dur=${(performance.now() - t0).toFixed(1)}`);
    ctx.status = status;
    ctx.body = answer;
  };
  r.post('/session', create);
  r.post('/session/_/create', create);

  r.get('/session/:ref', async (ctx) => {
    const s = await target(api, ctx);
    const [kernels, deps, attempts, array] = await Promise.all([
      api.sessions.kernels(s.id),
      api.queries.dependencies(s.id),
      api.queries.attempts(s.id),
      arrayInfo(api.arrays, s, (n) => query(ctx, n)),
    ]);
    ctx.body = { ...sessionInfo(s, kernels, deps, attempts), ...array };
  });

  r.delete('/session/:ref', async (ctx) => {
    const s = await target(api, ctx);
    const forced = queryFlag(ctx, 'forced');
    const brief = (row: SessionRow) => ({
      sessionId: row.id,
      sessionName: row.name,
      status: row.status,
      statusInfo: row.status_info,
    });
    if (queryFlag(ctx, 'recursive')) {
      const { row, dependents } = await api.service.destroyRecursive(s, forced);
      ctx.body = { stats: {}, ...brief(row), dependents: dependents.map(brief) };
      return;
    }
    const row = await api.service.destroy(s, forced);
    ctx.body = { stats: {}, status: row.status, statusInfo: row.status_info, sessionId: row.id };
  });

  r.get('/session/:ref/status-history', async (ctx) => {
    const s = await target(api, ctx);
    ctx.body = { result: s.status_history };
  });

  // bai extension: what became of each callback_url delivery (delivered, refused, redirected…).
  r.get('/session/:ref/callbacks', async (ctx) => {
    const s = await target(api, ctx);
    const rows = await api.queries.webhookDeliveries(s.id);
    ctx.body = {
      items: rows.map((w) => ({
        id: w.id,
        event: (JSON.parse(w.body) as { event?: string }).event ?? null,
        url: w.url,
        attempts: w.attempts,
        outcome: w.outcome ?? (w.gave_up_at ? 'failed' : 'pending'),
        error: w.last_error,
        deliveredAt: w.delivered_at?.toISOString() ?? null,
        gaveUpAt: w.gave_up_at?.toISOString() ?? null,
      })),
    };
  });

  r.get('/session/:ref/logs', async (ctx) => {
    const s = await target(api, ctx);
    const kernels = await api.sessions.kernels(s.id);
    const kernelId = query(ctx, 'kernel_id') ?? query(ctx, 'kernelId');
    const k = kernelId
      ? kernels.find((x) => x.id === kernelId)
      : kernels.find((x) => x.cluster_role === 'main');
    if (!k) throw new InvalidRequest(`No kernel "${kernelId}" in this session.`);
    // follow=1: one long answer, the pages of the incremental read as they come (log-follow.ts).
    const follow = queryFlag(ctx, 'follow');
    const after = query(ctx, 'after') ?? (follow ? '0' : undefined);
    if (after !== undefined) {
      // bai's incremental read (`bai run`, `logs -f`): the chunks copied after a cursor, about
      // a mebibyte at most per answer, so a follower prints each chunk once even when the
      // capped stream drops its oldest entries; `offset` (the bytes of the whole output before
      // `logs`) tells it what was dropped before it could read it.
      if (after !== '' && after !== '0' && !/^\d+-\d+$/.test(after))
        throw new InvalidRequest('after must be a cursor returned by this endpoint.');
      if (follow) {
        followLogs(ctx, api, s, k, after);
        return;
      }
      const waitMs = waitMsOf(ctx);
      let page = await readLogPage(api.redis, api.prefix, k.agent_id ?? '', k.id, after, PAGE_BYTES);
      let waited = false;
      // wait_ms: nothing new yet and the kernel has an agent and runs — block on its live copy
      // until the agent appends (push, not poll), the time is up or the client goes away.
      if (waitMs > 0 && page.logs === '' && !page.gap && !page.more && k.logs === null && k.agent_id) {
        const key = logStreamKey(api.prefix, k.agent_id, k.id);
        waited = await api.logWaiters.wait(key, page.cursor, waitMs, clientGone(ctx));
        if (waited)
          page = await readLogPage(api.redis, api.prefix, k.agent_id, k.id, page.cursor, PAGE_BYTES);
      }
      ctx.body = {
        result: {
          logs: page.logs,
          cursor: page.cursor,
          more: page.more,
          ended: k.logs !== null,
          ...(page.offset !== null ? { offset: page.offset } : {}),
          ...(page.gap ? { gap: true } : {}),
          ...(waited ? { waited: true } : {}),
        },
      };
      return;
    }
    if (k.logs !== null) {
      const totalBytes = k.logs_bytes === null ? null : Number(k.logs_bytes);
      ctx.body = { result: { logs: k.logs, truncated: k.logs_truncated, totalBytes } };
      return;
    }
    // Still running: what the agent copied so far (its live copy is capped in bytes).
    const page = await readLogPage(api.redis, api.prefix, k.agent_id ?? '', k.id, '0', LIVE_BYTES);
    const truncated = (page.offset ?? 0) > 0 || page.more;
    const totalBytes = await loggedBytes(api.redis, api.prefix, k.agent_id ?? '', k.id);
    ctx.body = {
      result: {
        logs: truncated ? truncationMarker(Buffer.byteLength(page.logs)) + page.logs : page.logs,
        truncated,
        totalBytes,
      },
    };
  });

  r.get('/sessions', async (ctx) => {
    const { rows, total, limit, offset } = await listSessions(api, ctx);
    ctx.body = { items: rows.map(sessionSummary), total, limit, offset };
  });

  return r;
}

/** `GET /sessions` (and the console's list): the query parameters checked and folded into a typed filter. */
export async function listSessions(api: ApiContext, ctx: Context) {
  const p = principal(ctx);
  const all = query(ctx, 'all') === 'true' && p.role !== 'user';
  const f: SessionListFilter = { order: { column: 'created_at', descending: true }, limit: 50, offset: 0 };
  if (!all) f.accessKey = await api.service.ownerOf(p, query(ctx, 'owner_access_key'));
  else if (p.role === 'admin') f.domain = p.domain;
  const status = query(ctx, 'status');
  if (status) {
    const list = status.split(',').map((x) => x.trim().toUpperCase());
    for (const st of list) if (!isSessionStatus(st)) throw new InvalidRequest(`Unknown status "${st}".`);
    f.statuses = list as SessionStatus[];
  }
  f.type = query(ctx, 'type') || undefined;
  f.tag = query(ctx, 'tag') || undefined;
  f.name = query(ctx, 'name') || undefined;
  f.scalingGroup = query(ctx, 'scaling_group') || undefined;
  f.scheduleName = query(ctx, 'scheduleName') || query(ctx, 'schedule_name') || undefined;
  const since = query(ctx, 'created_after');
  if (since) {
    const d = new Date(since);
    if (Number.isNaN(d.getTime())) throw new InvalidRequest('created_after must be an ISO-8601 time.');
    f.createdAfter = d;
  }
  const before = query(ctx, 'created_before');
  if (before) {
    const d = new Date(before);
    if (Number.isNaN(d.getTime())) throw new InvalidRequest('created_before must be an ISO-8601 time.');
    f.createdBefore = d;
  }
  f.limit = Math.min(Math.max(Number(query(ctx, 'limit') ?? '50') || 50, 1), 1000);
  f.offset = Math.max(Number(query(ctx, 'offset') ?? '0') || 0, 0);
  const order = query(ctx, 'order') ?? '-created_at';
  const col = order.replace(/^[-+]/, '');
  if (!(SESSION_ORDER_COLUMNS as readonly string[]).includes(col)) {
    throw new InvalidRequest(
      `order must be one of ${SESSION_ORDER_COLUMNS.join(', ')} (prefix - for descending).`,
    );
  }
  f.order = { column: col as SessionOrderColumn, descending: order.startsWith('-') };
  const { rows, total } = await api.queries.list(f);
  return { rows, total, limit: f.limit, offset: f.offset };
}
